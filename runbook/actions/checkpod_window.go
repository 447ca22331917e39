package actions

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/cockpit-dev/cockpit/probes"
)

// checkPodLoop is the shell loop a windowed check pod runs: $1 is the
// window in centiseconds, the rest is the command. It runs the command
// until the window is over and the last two attempts agree (or three
// windows have passed, or the result changed checkPodMaxRuns times), marks
// each attempt in the output, exits with the last attempt's exit code and
// leaves the record of the attempts in the termination message: a header,
// then one line per run of equal results, "exit first-start last-end
// attempts", times in centiseconds since the first attempt started (read
// from /proc/uptime, so no clock binary is needed).
const checkPodLoop = `w=$1; shift
now() { read -r u _ </proc/uptime; u=${u%.*}${u#*.}; while case $u in 0?*) true;; *) false;; esac; do u=${u#0}; done; }
now; t0=$u; n=0; k=0; prev=; first=0; last=0; cnt=0; runs=
while :; do
  now; s=$((u-t0))
  "$@"; rc=$?
  now; e=$((u-t0)); n=$((n+1))
  printf '[cockpit check-pod] attempt %d at %d.%02d s: exit %d\n' "$n" $((s/100)) $((s%100)) "$rc"
  if [ "$rc" = "$prev" ]; then cnt=$((cnt+1)); last=$e
  else
    if [ -n "$prev" ]; then runs="$runs$prev $first $last $cnt
"; k=$((k+1)); fi
    prev=$rc; first=$s; last=$e; cnt=1
  fi
  if [ "$e" -ge "$w" ] && [ "$cnt" -ge 2 ]; then break; fi
  if [ "$e" -ge $((3*w)) ] || [ "$k" -ge ` + checkPodMaxRunsText + ` ]; then break; fi
  sleep ` + checkPodPause + ` 2>/dev/null || sleep 1 2>/dev/null || :
done
printf '` + checkPodRecordHeader + `\n%s%s %s %s %s\n' "$runs" "$prev" "$first" "$last" "$cnt" >/dev/termination-log 2>/dev/null
exit "$rc"`

// checkPodRecordHeader starts the termination message of a windowed check.
const checkPodRecordHeader = "cockpit check-pod attempts v1"

// checkPodMaxRunsText bounds how many times the result may change before
// the loop gives up (it keeps the record under the kubelet's 4 KiB
// termination message limit).
const checkPodMaxRunsText = "20"

// command is the container's command: the spec's, run once with window 0,
// else inside checkPodLoop.
func (a *checkPodAction) command() []string {
	if a.window == 0 {
		return a.spec.Command
	}
	cs := (a.window + 10*time.Millisecond - 1) / (10 * time.Millisecond)
	return append([]string{"/bin/sh", "-c", checkPodLoop, "cockpit-check", strconv.FormatInt(int64(cs), 10)}, a.spec.Command...)
}

// attemptRun is a run of consecutive attempts with the same exit code.
type attemptRun struct {
	exit     int
	from, to time.Duration // the first attempt's start, the last one's end
	attempts int
}

// parseAttempts reads checkPodLoop's record from a termination message.
func parseAttempts(msg string) ([]attemptRun, bool) {
	lines := strings.Split(strings.TrimSpace(msg), "\n")
	if len(lines) < 2 || strings.TrimSpace(lines[0]) != checkPodRecordHeader {
		return nil, false
	}
	runs := make([]attemptRun, 0, len(lines)-1)
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) != 4 {
			return nil, false
		}
		var v [4]int
		for i, s := range f {
			n, err := strconv.Atoi(s)
			if err != nil || n < 0 {
				return nil, false
			}
			v[i] = n
		}
		runs = append(runs, attemptRun{exit: v[0], from: time.Duration(v[1]) * 10 * time.Millisecond,
			to: time.Duration(v[2]) * 10 * time.Millisecond, attempts: v[3]})
	}
	return runs, true
}

// seconds writes d as seconds with one decimal.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) }

// String describes a run: "exit 1 from 1.1 s to 5.6 s (4 attempts)".
func (r attemptRun) String() string {
	if r.attempts == 1 {
		if from, to := seconds(r.from), seconds(r.to); from != to {
			return fmt.Sprintf("exit %d at %s–%s s (1 attempt)", r.exit, from, to)
		}
		return fmt.Sprintf("exit %d at %s s (1 attempt)", r.exit, seconds(r.from))
	}
	return fmt.Sprintf("exit %d from %s s to %s s (%d attempts)", r.exit, seconds(r.from), seconds(r.to), r.attempts)
}

// describeRuns lists the runs in order, times since the first attempt.
func describeRuns(runs []attemptRun) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = r.String()
	}
	return strings.Join(parts, ", then ")
}

// windowVerdict judges a windowed check's ended container by its record of
// attempts: pass iff the result settled (the last two attempts agree) on
// the expected exit code. Every change of result is told, with its time.
func (a *checkPodAction) windowVerdict(p *corev1.Pod, t *corev1.ContainerStateTerminated) Result {
	var res Result
	cmd, want := shellJoin(a.spec.Command), a.spec.ExpectExitCode
	res.Values = map[string]float64{"exit_code": float64(t.ExitCode)}
	runs, ok := parseAttempts(t.Message)
	if !ok {
		// No record: the loop never ran to its end (the image has no
		// /bin/sh, the container was killed) or something else wrote
		// the termination message. The exit code is all there is.
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("%s: no record of the attempts (exit code %d)", cmd, t.ExitCode)
		res.Message = fmt.Sprintf("pod %s: the container ended with exit code %d", p.Name, t.ExitCode)
		if why := strings.Trim(t.Reason+": "+t.Message, ": "); why != "" {
			res.Message += " (" + why + ")"
		}
		res.Message += fmt.Sprintf("; without the record of its attempts cockpit cannot tell whether the result settled within the window %s", ShortDuration(a.window))
		if t.Reason == "StartError" || t.ExitCode == 126 || t.ExitCode == 127 || t.ExitCode == 128 {
			res.Message += "; a windowed check runs the command in a /bin/sh loop: for an image without a shell, set window: 0 to run it once"
		}
		return res
	}
	last := runs[len(runs)-1]
	total := 0
	for _, r := range runs {
		total += r.attempts
	}
	res.Values["attempts"] = float64(total)
	res.Values["result_changes"] = float64(len(runs) - 1)
	history := describeRuns(runs)
	switch {
	case last.attempts < 2:
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("%s did not settle: %d attempts, the result changed %d times", cmd, total, len(runs)-1)
		res.Message = fmt.Sprintf("pod %s: %s; no result held for two attempts in a row by the end (window %s)", p.Name, history, ShortDuration(a.window))
		return res
	case last.exit == want:
		res.Status = probes.StatusPass
		res.Summary = fmt.Sprintf("%s exited %d on every attempt from %s s to %s s (%d attempts)", cmd, last.exit, seconds(last.from), seconds(last.to), last.attempts)
	default:
		res.Status = probes.StatusFail
		res.Summary = fmt.Sprintf("%s exited %d from %s s on (%d attempts), want %d", cmd, last.exit, seconds(last.from), last.attempts, want)
		res.Message = fmt.Sprintf("pod %s: exit code %d, want %d (%s)", p.Name, last.exit, want, t.Reason)
	}
	if len(runs) > 1 {
		res.Summary += fmt.Sprintf("; earlier attempts differed (%s)", describeRuns(runs[:len(runs)-1]))
		res.Message = joinNotes(res.Message, "the result changed during the window: "+history+
			" (a NetworkPolicy engine programs a new pod's rules a moment after it starts; the settled result counts)")
	} else {
		res.Message = joinNotes(res.Message, "every attempt agreed: "+history)
	}
	return res
}
