package main

import "encoding/pem"

// pemBlock returns the bytes of the first PEM block of type typ, or nil.
func pemBlock(data []byte, typ string) []byte {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return nil
		}
		if b.Type == typ {
			return b.Bytes
		}
	}
}
