// The compiled peer of the ingest benchmark: Go's gofeed parsing each file and bluemonday's
// UGC policy sanitizing every item's content and description, the same work planet does
// between bytes and stored HTML, on one core (GOMAXPROCS=1) for about SECONDS seconds.
// Prints one JSON line: bytes, posts, seconds, rounds, failed (files gofeed could not parse
// in the first round) and posts_per_file of that round, for the bench to compare counts.
// Built by benches/ingest.rs in GOPATH mode against Debian's packages:
// GO111MODULE=off GOPATH=/usr/share/gocode go build -o OUT benches/gofeed/main.go
// Usage: gofeed-bench SECONDS FILE...
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/microcosm-cc/bluemonday"
	"github.com/mmcdole/gofeed"
)

type result struct {
	Bytes        int64   `json:"bytes"`
	Posts        int64   `json:"posts"`
	Seconds      float64 `json:"seconds"`
	Rounds       int     `json:"rounds"`
	Failed       int     `json:"failed"`
	PostsPerFile []int   `json:"posts_per_file"`
}

func main() {
	runtime.GOMAXPROCS(1)
	seconds, err := strconv.ParseFloat(os.Args[1], 64)
	if err != nil {
		panic(err)
	}
	documents := make([][]byte, 0, len(os.Args)-2)
	for _, path := range os.Args[2:] {
		document, err := os.ReadFile(path)
		if err != nil {
			panic(err)
		}
		documents = append(documents, document)
	}
	policy := bluemonday.UGCPolicy()
	var out result
	out.PostsPerFile = make([]int, len(documents))
	sink := 0
	start := time.Now()
	for out.Rounds == 0 || time.Since(start).Seconds() < seconds {
		for index, document := range documents {
			out.Bytes += int64(len(document))
			feed, err := gofeed.NewParser().Parse(bytes.NewReader(document))
			if err != nil {
				if out.Rounds == 0 {
					out.Failed++
				}
				continue
			}
			for _, item := range feed.Items {
				sink += len(policy.Sanitize(item.Content)) + len(policy.Sanitize(item.Description))
			}
			out.Posts += int64(len(feed.Items))
			if out.Rounds == 0 {
				out.PostsPerFile[index] = len(feed.Items)
			}
		}
		out.Rounds++
	}
	out.Seconds = time.Since(start).Seconds()
	if sink < 0 {
		panic("unreachable: keeps the sanitizer's output alive")
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
