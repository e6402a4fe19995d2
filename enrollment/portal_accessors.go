package enrollment

// ConsentVersions returns the versions of the two consent texts in force
// (the portal shows consent/<version>.<lang>.html of each), and false when
// the service was built without WithActivation.
func (s *Service) ConsentVersions() (Consents, bool) {
	if s.act == nil {
		return Consents{}, false
	}
	return s.act.Consents, true
}
