package loader

import (
	"fmt"
	"strings"
	"time"
)

// Shortfall bounds: an open model's run delivered less than it was asked
// for when it sent fewer than MinDeliveredRatio of the iterations its
// schedule made due, or dropped more than MaxDroppedRatio of them.
const (
	MinDeliveredRatio = 0.95
	MaxDroppedRatio   = 0.01
	// saturatedCPU is the share of the cores above which a second counts
	// as the generator's CPU being saturated.
	saturatedCPU = 0.9
)

// Delivery is what an open model's generator sent against what its
// schedule made due, with the evidence the loader measured of why some of
// it was not sent. The zero value is a closed model's: nothing scheduled.
type Delivery struct {
	// Due iterations were made due by the schedule: sent or dropped.
	Due int64
	// Sent iterations were handed to a VU.
	Sent int64
	// Dropped iterations were due but never sent: later than MaxLag, or
	// still unsent when the duration ended.
	Dropped int64
	// Active is the time the schedule ran: from the start to its end (or
	// now), pauses excluded.
	Active time.Duration
	// MaxVUs is the VU cap; VUCapReached is set once every one of them
	// was busy with an iteration due.
	MaxVUs       int
	VUCapReached bool
	// CPU is the process's CPU time (user and system) since the run
	// started; Cores is how many it may use at once (GOMAXPROCS). CPU is
	// zero where the platform does not report it.
	CPU   time.Duration
	Cores int
	// DropSeconds counts the one-second intervals in which iterations were
	// dropped; SaturatedSeconds those of them in which the process used at
	// least 90 % of Cores.
	DropSeconds, SaturatedSeconds int
}

// TargetRate is the rate the schedule asked for on average over Active.
func (d Delivery) TargetRate() float64 { return perSecond(d.Due, d.Active) }

// Rate is the rate the generator sent at on average over Active.
func (d Delivery) Rate() float64 { return perSecond(d.Sent, d.Active) }

func perSecond(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Ratio is Sent out of Due (1 when nothing was due).
func (d Delivery) Ratio() float64 {
	if d.Due <= 0 {
		return 1
	}
	return float64(d.Sent) / float64(d.Due)
}

// DroppedRatio is Dropped out of Due.
func (d Delivery) DroppedRatio() float64 {
	if d.Due <= 0 {
		return 0
	}
	return float64(d.Dropped) / float64(d.Due)
}

// Short reports a shortfall: less than MinDeliveredRatio of what was due
// was sent, or more than MaxDroppedRatio of it was dropped.
func (d Delivery) Short() bool {
	return d.Due > 0 && (d.Ratio() < MinDeliveredRatio || d.DroppedRatio() > MaxDroppedRatio)
}

// Shortfall describes an open model's shortfall from what the loader
// measured, e.g. "delivered 82.0 of 200 req/s (59 % dropped): the
// generator, not the service, was the limit: VU cap reached (all 1 VUs
// busy with iterations due)". It is "" when there was none.
func (s Snapshot) Shortfall() string {
	d := s.Delivery
	if !s.Executor.Open() || !d.Short() {
		return ""
	}
	return fmt.Sprintf("delivered %.1f of %s req/s (%s dropped): the generator, not the service, was the limit: %s",
		d.Rate(), rateString(d.TargetRate()), percent(d.DroppedRatio()), strings.Join(s.ShortfallCauses(), "; "))
}

// ShortfallCauses lists what the loader observed that explains a
// shortfall: the VU cap reached, the generator's CPU saturated, connection
// errors. It never guesses: with none of these observed it is
// ["reason not identified"].
func (s Snapshot) ShortfallCauses() []string {
	d := s.Delivery
	var out []string
	if d.VUCapReached {
		out = append(out, fmt.Sprintf("VU cap reached (all %d VUs busy with iterations due)", d.MaxVUs))
	}
	if d.SaturatedSeconds > 0 {
		out = append(out, fmt.Sprintf("generator CPU saturated (≥ %.0f %% of %d core(s) in %d of the %d second(s) with drops)",
			saturatedCPU*100, d.Cores, d.SaturatedSeconds, d.DropSeconds))
	}
	var conn []string
	for _, c := range Classes() {
		if n := s.Total.Errors.ByClass(c); n > 0 && c.transport() {
			conn = append(conn, fmt.Sprintf("%d %s", n, c))
		}
	}
	if len(conn) > 0 {
		out = append(out, "connection errors ("+strings.Join(conn, ", ")+")")
	}
	if len(out) == 0 {
		out = append(out, "reason not identified")
	}
	return out
}

// rateString formats a rate without trailing zeros: 200, 12.5.
func rateString(r float64) string {
	if r >= 100 {
		return fmt.Sprintf("%.0f", r)
	}
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", r), "0"), ".")
}

// percent formats a ratio as a whole percentage, or with one decimal below
// 10 %: "59 %", "1.4 %".
func percent(f float64) string {
	if f*100 < 10 {
		return fmt.Sprintf("%.1f %%", f*100)
	}
	return fmt.Sprintf("%.0f %%", f*100)
}
