package distload_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/cockpit-dev/cockpit/internal/distload"
)

func TestParseControl(t *testing.T) {
	tests := []struct {
		name    string
		data    map[string]string
		want    distload.Control
		wantErr string
	}{
		{name: "before start", data: map[string]string{"args": `["--vus","2","http://x/"]`, "workers": "2"},
			want: distload.Control{Args: []string{"--vus", "2", "http://x/"}, Workers: 2}},
		{name: "controls", data: map[string]string{"args": `[]`, "workers": "3", "start": "2030-01-02T03:04:05.5Z", "paused": "true", "stop": "true", "abort": "false", "rate": "12.5", "vus": "4"},
			want: distload.Control{Args: []string{}, Workers: 3, Start: time.Date(2030, 1, 2, 3, 4, 5, 5e8, time.UTC), Paused: true, Stop: true, Rate: 12.5, VUs: 4}},
		{name: "no args", data: map[string]string{"workers": "3"}, wantErr: "configmap key args"},
		{name: "bad workers", data: map[string]string{"args": `[]`, "workers": "0"}, wantErr: "configmap key workers"},
		{name: "bad start", data: map[string]string{"args": `[]`, "workers": "1", "start": "soon"}, wantErr: "configmap key start"},
		{name: "bad stop", data: map[string]string{"args": `[]`, "workers": "1", "stop": "maybe"}, wantErr: "configmap key stop"},
		{name: "bad rate", data: map[string]string{"args": `[]`, "workers": "1", "rate": "-1"}, wantErr: "configmap key rate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := distload.ParseControl(tt.data)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !got.Start.Equal(tt.want.Start) {
				t.Errorf("start %s, want %s", got.Start, tt.want.Start)
			}
			got.Start, tt.want.Start = time.Time{}, time.Time{}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(tt.want)
			if string(gj) != string(wj) {
				t.Errorf("got %s, want %s", gj, wj)
			}
		})
	}
}
