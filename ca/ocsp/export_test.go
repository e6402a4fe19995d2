package ocsp

// TakeLiveSlots occupies every live-signing slot of r until release is
// called, to test what a flood of per-request signatures gets.
func TakeLiveSlots(r *Responder) (release func()) {
	for i := 0; i < cap(r.live); i++ {
		r.live <- struct{}{}
	}
	return func() {
		for i := 0; i < cap(r.live); i++ {
			<-r.live
		}
	}
}
