package toolcache

import (
	"os"
	"path/filepath"
)

// Dir is where a build script put its binaries: $binEnv when set, else
// name under $cacheEnv, else under the user cache's cockpit/sub.
func Dir(binEnv, cacheEnv, sub, name string) string {
	if dir := os.Getenv(binEnv); dir != "" {
		return dir
	}
	root := os.Getenv(cacheEnv)
	if root == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		root = filepath.Join(cache, "cockpit", sub)
	}
	return filepath.Join(root, name)
}

// Required reports whether missing binaries must fail the tests rather than
// skip them: in CI, under make test (COCKPIT_REQUIRE_CONTROLPLANE=1), or
// when $binEnv names them.
func Required(binEnv string) bool {
	return os.Getenv("CI") == "true" ||
		os.Getenv("COCKPIT_REQUIRE_CONTROLPLANE") == "1" ||
		os.Getenv(binEnv) != ""
}
