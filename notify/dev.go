package notify

import "context"

// DevSender is the demo's sender: it sends nothing anywhere and reports
// success, so messages are marked sent and read in the development mailbox.
type DevSender struct{}

// Send reports success unless ctx is done.
func (DevSender) Send(ctx context.Context, _ Record) error { return ctx.Err() }
