package main

import (
	"errors"
	"fmt"
)

// Exit codes, the same for every command (DESIGN.md). This is the only place
// that defines them; packages below cmd/cockpit return errors and results,
// never exit codes.
const (
	exitOK      = 0 // everything passed
	exitError   = 1 // runtime error: I/O, network, a bug
	exitInvalid = 2 // invalid input: flags, arguments, a runbook or config file
	exitFailed  = 3 // a gate or threshold failed
	exitWarned  = 4 // passed, but with warnings or recorded overrides
)

// exitCodesHelp is appended to every command's --help.
const exitCodesHelp = `Exit codes:
  0  pass
  1  runtime error (I/O, network, unexpected failure)
  2  invalid input (flags, arguments, runbook or config file)
  3  a gate or threshold failed
  4  passed with warnings or overrides`

// exitError carries an exit code through cobra's error return.
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// invalidInput marks err as bad input from the user (exit 2).
func invalidInput(err error) error {
	if err == nil {
		return nil
	}
	return &codedError{code: exitInvalid, err: err}
}

// invalidInputf is invalidInput with formatting.
func invalidInputf(format string, args ...any) error {
	return invalidInput(fmt.Errorf(format, args...))
}

// verdict is a non-error outcome that still needs a non-zero exit: a failed
// gate or threshold (3) or a pass with warnings (4). Its message has already
// been reported, so main prints nothing more for it.
type verdict struct{ code int }

func (v verdict) Error() string { return fmt.Sprintf("exit status %d", v.code) }

// exitCode maps an error returned by a command to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var v verdict
	if errors.As(err, &v) {
		return v.code
	}
	var ce *codedError
	if errors.As(err, &ce) {
		return ce.code
	}
	return exitError
}
