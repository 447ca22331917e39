//go:build !linux

package loader

import "errors"

// newWaker has no precise timer to offer here: the Go timer paces alone.
func newWaker() (waker, error) { return nil, errors.New("no precise timer on this system") }
