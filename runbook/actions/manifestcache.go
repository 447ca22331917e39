package actions

import (
	"errors"
	"strings"
	"sync"
)

// manifestCache keeps what a spec read from its manifest files, for as
// long as the files' stamp (manifestStamp) is the same: Describe runs on
// every redraw of a TUI. Read errors are not kept (the files may be fixed
// any moment). Each spec has its own; a nil cache reads every time.
type manifestCache struct {
	mu    sync.Mutex
	key   string
	stamp string
	ms    []manifest
}

// read returns the manifests of files (relative to dir), reading them
// again when one changed.
func (c *manifestCache) read(dir string, files []string) ([]manifest, error) {
	if c == nil {
		return readNonEmpty(dir, files)
	}
	// Stamped before reading: a file changed in between is read again
	// next time.
	stamp, stampErr := manifestStamp(dir, files)
	key := dir + "\x00" + strings.Join(files, "\x00")
	c.mu.Lock()
	defer c.mu.Unlock()
	if stampErr == nil && c.ms != nil && c.key == key && c.stamp == stamp {
		return c.ms, nil
	}
	ms, err := readNonEmpty(dir, files)
	if err != nil || stampErr != nil {
		c.ms = nil
		return ms, err
	}
	c.key, c.stamp, c.ms = key, stamp, ms
	return ms, nil
}

func readNonEmpty(dir string, files []string) ([]manifest, error) {
	ms, err := readManifestFiles(dir, files)
	if err == nil && len(ms) == 0 {
		err = errors.New("no objects")
	}
	return ms, err
}
