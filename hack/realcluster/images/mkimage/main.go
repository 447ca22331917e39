// Command mkimage writes a single-layer linux/amd64 OCI image made of local
// static binaries as a docker-archive tarball, for `ctr images import`: the
// real-cluster rig's images are built here, no registry is reachable.
//
//	mkimage -tag REF -o OUT.tar [-entrypoint /a,arg] [-link /bin/sh=busybox ...] /dst=src ...
//
// Every file is added with mode 0755; -link adds a symbolic link. The layer
// also holds /etc/passwd, /etc/group and the usual empty directories. All
// timestamps are the Unix epoch, so the same inputs give the same digest.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// links collects repeated -link flags.
type links []string

func (l *links) String() string     { return strings.Join(*l, ",") }
func (l *links) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	tag := flag.String("tag", "", "image reference, e.g. docker.io/library/busybox:1.37")
	out := flag.String("o", "", "output tarball")
	ep := flag.String("entrypoint", "", "entrypoint, comma separated")
	var lk links
	flag.Var(&lk, "link", "symbolic link /path=target (repeatable)")
	flag.Parse()
	if *tag == "" || *out == "" {
		log.Fatal("mkimage: -tag and -o are required")
	}
	if err := run(*tag, *out, *ep, lk, flag.Args()); err != nil {
		log.Fatalf("mkimage %s: %v", *tag, err)
	}
}

func run(tag, out, ep string, lk links, files []string) error {
	ref, err := name.ParseReference(tag)
	if err != nil {
		return fmt.Errorf("parse tag: %w", err)
	}
	layerTar, err := layer(lk, files)
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: time.Unix(0, 0)}
	cf.Config = v1.Config{Env: []string{"PATH=/bin:/"}}
	if ep != "" {
		cf.Config.Entrypoint = strings.Split(ep, ",")
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	tmp := out + ".tmp"
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("rename: %w", err)
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("digest: %w", err)
	}
	log.Printf("mkimage: wrote %s (%s) to %s", ref, d, out)
	return nil
}

// layer builds the image's only layer.
func layer(lk links, files []string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Unix(0, 0)
	dirs := map[string]bool{}
	mkdir := func(d string) error {
		for _, p := range parents(d) {
			if dirs[p] {
				continue
			}
			dirs[p] = true
			mode := int64(0o755)
			if p == "tmp/" {
				mode = 0o1777
			}
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: p, Mode: mode, ModTime: mt}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "dev/", "proc/", "sys/", "var/run/"} {
		if err := mkdir(d); err != nil {
			return nil, err
		}
	}
	etc := map[string]string{
		"etc/passwd": "root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
		"etc/group":  "root:x:0:\nnobody:x:65534:\n",
	}
	for _, n := range []string{"etc/group", "etc/passwd"} {
		c := etc[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(c)), ModTime: mt}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(c)); err != nil {
			return nil, err
		}
	}
	for _, a := range files {
		dst, src, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("file argument %q: want /dst=src", a)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", src, err)
		}
		dst = strings.TrimPrefix(path.Clean(dst), "/")
		if err := mkdir(path.Dir(dst) + "/"); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: dst, Mode: 0o755, Size: int64(len(b)), ModTime: mt}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	sort.Strings(lk)
	for _, a := range lk {
		dst, target, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("-link %q: want /path=target", a)
		}
		dst = strings.TrimPrefix(path.Clean(dst), "/")
		if err := mkdir(path.Dir(dst) + "/"); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: dst, Linkname: target, Mode: 0o777, ModTime: mt}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// parents lists d ("a/b/") and its parent directories, outermost first,
// each with a trailing slash.
func parents(d string) []string {
	d = strings.Trim(d, "/")
	if d == "" || d == "." {
		return nil
	}
	var out []string
	parts := strings.Split(d, "/")
	for i := range parts {
		out = append(out, strings.Join(parts[:i+1], "/")+"/")
	}
	return out
}
