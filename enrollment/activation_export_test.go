package enrollment

import (
	"time"

	"github.com/psre/appliance/enrollment/throttle"
)

// SetClock replaces the service's clock (tests only), for example to step
// past an activation link's expiry. The login throttle follows it.
func SetClock(s *Service, now func() time.Time) {
	s.now = now
	s.throttle = throttle.New(throttle.DefaultPolicy(), now)
}
