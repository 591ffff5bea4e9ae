// loadgen: an HTTP load generator for Helhet's intake APIs that, unlike oha or wrk, sends a different
// body every request (unique message ids, varied phone numbers and emails), so dedupe claims and
// identifier normalisation are really exercised. Open loop at a fixed arrival rate, or closed loop
// with -rate 0. Latency runs from each request's scheduled start (no coordinated omission).
// With -urls-file it GETs the listed URLs in turn instead (read APIs: lookups of many different keys).
// Standard library only; prints one JSON summary on stdout.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type summary struct {
	Mode           string         `json:"mode"`
	OfferedPerSec  float64        `json:"offered_per_s"`
	Requests       int            `json:"requests"`
	Items          int            `json:"items"`
	AchievedPerSec float64        `json:"achieved_requests_per_s"`
	ItemsPerSec    float64        `json:"achieved_items_per_s"`
	P50Ms          float64        `json:"p50_ms"`
	P90Ms          float64        `json:"p90_ms"`
	P99Ms          float64        `json:"p99_ms"`
	MaxMs          float64        `json:"max_ms"`
	Statuses       map[string]int `json:"statuses"`
	Unsent         int            `json:"unsent"`
}

type generator struct {
	run       string
	counter   atomic.Int64
	duplicate bool
	urls      []string // GET these in turn instead of POSTing bodies
}

// The next request: a GET of the next listed URL, or a POST of a new body to url. count is how many
// items a successful answer stands for.
func (g *generator) request(url, token string, batch int) (*http.Request, int) {
	var req *http.Request
	count := 1
	if len(g.urls) > 0 {
		n := g.counter.Add(1) - 1
		req, _ = http.NewRequest(http.MethodGet, g.urls[int(n%int64(len(g.urls)))], nil)
	} else {
		var body []byte
		body, count = g.body(batch)
		req, _ = http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return req, count
}

// One URL per line; blank lines are skipped.
func readURLs(path string) ([]string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	var urls []string
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		if line := strings.TrimSpace(scanner.Text()); line != "" {
			urls = append(urls, line)
		}
	}
	return urls, scanner.Err()
}

// An interaction like a web form would send: the message id and the customer's phone and email vary.
func (g *generator) interaction() map[string]any {
	n := g.counter.Add(1)
	if g.duplicate {
		n = 1
	}
	return map[string]any{
		"channel":   "web_form",
		"direction": "inbound",
		"identifiers": []map[string]string{
			{"kind": "phone", "value": fmt.Sprintf("9%02d %02d %03d", n%100, (n/100)%100, (n/10000)%1000)},
			{"kind": "email", "value": fmt.Sprintf("Kunde%d@Example%d.no", n, n%50)},
		},
		"subject":           "Levering",
		"text":              strings.Repeat("Hvor er pakken min? ", 10),
		"occurred_at":       "2026-11-23T10:00:00+01:00",
		"source_message_id": fmt.Sprintf("%s-%d", g.run, n),
	}
}

func (g *generator) body(batch int) ([]byte, int) {
	if batch <= 0 {
		b, _ := json.Marshal(g.interaction())
		return b, 1
	}
	items := make([]map[string]any, batch)
	for i := range items {
		items[i] = g.interaction()
	}
	b, _ := json.Marshal(map[string]any{"interactions": items})
	return b, batch
}

func main() {
	url := flag.String("url", "", "endpoint to POST to")
	urlsFile := flag.String("urls-file", "", "file of URLs (one a line) to GET in turn instead of POSTing")
	token := flag.String("token", "", "bearer token")
	rate := flag.Float64("rate", 1000, "requests per second (0: closed loop)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	connections := flag.Int("connections", 64, "most requests in flight")
	batch := flag.Int("batch", 0, "items per request for a batch endpoint (0: single)")
	duplicate := flag.Bool("duplicate", false, "send the same message every time (dedupe hits)")
	run := flag.String("run", fmt.Sprintf("run-%d", time.Now().UnixNano()), "prefix of message ids")
	flag.Parse()
	gen := &generator{run: *run, duplicate: *duplicate}
	if *urlsFile != "" {
		urls, err := readURLs(*urlsFile)
		if err != nil || len(urls) == 0 {
			fmt.Fprintln(os.Stderr, "-urls-file: no URLs read:", err)
			os.Exit(2)
		}
		gen.urls = urls
	} else if *url == "" {
		fmt.Fprintln(os.Stderr, "-url or -urls-file is required")
		os.Exit(2)
	}
	client := &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *connections, MaxConnsPerHost: *connections},
	}
	slots := make(chan struct{}, *connections)
	var (
		mu        sync.Mutex
		latencies []time.Duration
		statuses  = map[string]int{}
		items     int
		unsent    int
		wg        sync.WaitGroup
	)
	send := func(scheduled time.Time) {
		defer wg.Done()
		defer func() { <-slots }()
		req, count := gen.request(*url, *token, *batch)
		status, success := "error", false
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			status, success = fmt.Sprint(resp.StatusCode), resp.StatusCode/100 == 2
		}
		elapsed := time.Since(scheduled)
		mu.Lock()
		latencies = append(latencies, elapsed)
		statuses[status]++
		if success {
			items += count
		}
		mu.Unlock()
	}

	started := time.Now()
	deadline := started.Add(*duration)
	if *rate > 0 {
		interval := time.Duration(float64(time.Second) / *rate)
		for i := 0; ; i++ {
			scheduled := started.Add(time.Duration(i) * interval)
			if !scheduled.Before(deadline) {
				break
			}
			if wait := time.Until(scheduled); wait > 0 {
				time.Sleep(wait)
			}
			select {
			case slots <- struct{}{}:
				wg.Add(1)
				go send(scheduled)
			default: // every connection busy: the server is not keeping up; count it, do not queue it
				unsent++
			}
		}
	} else {
		for time.Now().Before(deadline) {
			slots <- struct{}{}
			wg.Add(1)
			go send(time.Now())
		}
	}
	wg.Wait()
	elapsed := time.Since(started).Seconds()

	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	pick := func(q float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		index := int(q*float64(len(latencies))+0.5) - 1
		if index < 0 {
			index = 0
		}
		return float64(latencies[index].Microseconds()) / 1000
	}
	mode := "open loop"
	if *rate <= 0 {
		mode = "closed loop"
	}
	out := summary{
		Mode: mode, OfferedPerSec: *rate, Requests: len(latencies), Items: items,
		AchievedPerSec: float64(len(latencies)) / elapsed, ItemsPerSec: float64(items) / elapsed,
		P50Ms: pick(0.50), P90Ms: pick(0.90), P99Ms: pick(0.99), MaxMs: pick(1.0),
		Statuses: statuses, Unsent: unsent,
	}
	encoded, _ := json.MarshalIndent(out, "", "  ")
	fmt.Println(string(encoded))
}
