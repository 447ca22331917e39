//go:build linux

package loader

import (
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"
)

// timerFD is a Linux timerfd (CLOCK_MONOTONIC) read through Go's
// netpoller: its expiry wakes the netpoller at once, on the kernel's
// high-resolution timer, where a Go timer may wait for the netpoller's next
// whole millisecond.
type timerFD struct {
	f   *os.File
	fd  uintptr // f's descriptor, kept: f.Fd() would make it blocking
	buf [8]byte
}

type itimerspec struct {
	interval, value syscall.Timespec
}

func newWaker() (waker, error) {
	const clockMonotonic = 1
	fd, _, errno := syscall.Syscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if errno != 0 {
		return nil, fmt.Errorf("timerfd_create: %w", errno)
	}
	// Non-blocking, so os.File reads it through the netpoller.
	return &timerFD{f: os.NewFile(fd, "pacer-timerfd"), fd: fd}, nil
}

func (t *timerFD) sleep(d time.Duration) error {
	spec := itimerspec{value: syscall.NsecToTimespec(int64(max(d, 1)))} // 0 would disarm it
	if _, _, errno := syscall.Syscall6(syscall.SYS_TIMERFD_SETTIME, t.fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("timerfd_settime: %w", errno)
	}
	if _, err := t.f.Read(t.buf[:]); err != nil {
		return fmt.Errorf("read timerfd: %w", err)
	}
	return nil
}

func (t *timerFD) close() error { return t.f.Close() }
