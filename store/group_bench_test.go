package store

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkRecordIntent measures durable intents per second with
// concurrent writers sharing commits.
func BenchmarkRecordIntent(b *testing.B) {
	for _, workers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "a.db"), time.Second)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			const per = 200
			start := time.Now()
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < per; i++ {
						if err := db.RecordIntent(CertRecord{Serial: fmt.Sprintf("%x-%x", w, i), TBSHash: []byte{1}}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(workers*per)/time.Since(start).Seconds(), "intents/s")
		})
	}
}
