package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestDroppedDialEndsInDialTimeoutAtTheDeadline(t *testing.T) {
	start := time.Now()
	r := webhookCall(webhookRequest{url: "https://istiod.istio-system.svc:443/inject?timeout=1s",
		serverName: "istiod.istio-system.svc", method: http.MethodPost, timeout: time.Second,
		dial: "127.0.0.1:1", dropped: true})
	want := `Post "https://istiod.istio-system.svc:443/inject?timeout=1s": dial tcp 127.0.0.1:1: i/o timeout`
	if r.Error != want {
		t.Errorf("error %q, want %q", r.Error, want)
	}
	if elapsed := time.Since(start); elapsed < 900*time.Millisecond {
		t.Errorf("the dropped dial gave up after %v, before the deadline", elapsed)
	}
}

func TestUnansweredRequestEndsInContextDeadlineExceeded(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // then net/http notices the client leaving
		<-r.Context().Done()
	}))
	defer srv.Close()
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	r := webhookCall(webhookRequest{url: srv.URL + "/inject", roots: roots, serverName: "example.com",
		method: http.MethodPost, timeout: 300 * time.Millisecond})
	want := `Post "` + srv.URL + `/inject": context deadline exceeded`
	if r.Error != want {
		t.Errorf("error %q, want %q", r.Error, want)
	}
}

func TestUnknownAuthorityIsWrappedAsCurrentGoWrapsIt(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	r := webhookCall(webhookRequest{url: srv.URL, serverName: "example.com", method: http.MethodPost,
		timeout: 5 * time.Second}).currentGoText()
	want := `Post "` + srv.URL + `": tls: failed to verify certificate: x509: certificate signed by unknown authority`
	if r.Error != want {
		t.Errorf("error %q, want %q", r.Error, want)
	}
}

func TestInjectionPatchAppendsTheSidecarToTheContainers(t *testing.T) {
	ops, err := injectionPatch(json.RawMessage(`{"metadata":{"labels":{"app":"a"}},"spec":{"containers":[{"name":"app"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, op := range ops {
		if op.Op == "add" && op.Path == "/spec/containers/1" {
			found = op.Value.(map[string]any)["name"] == "istio-proxy"
		}
		if key := strings.TrimPrefix(op.Path, "/metadata/labels/"); key != op.Path && strings.Contains(key, "/") {
			t.Errorf("label key not escaped: %s", op.Path)
		}
	}
	if !found {
		t.Errorf("no add of istio-proxy at /spec/containers/1 in %+v", ops)
	}
}
