package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// errSkip marks something essential missing: the differential exits 77.
type errSkip struct{ reason string }

func (e errSkip) Error() string { return e.reason }

// caseDir returns the case's certificate directory under certs (made when
// absent, reused when complete), or a fresh temporary one when certs is "".
func caseDir(c rcase, certs string) (dir string, cleanup func(), err error) {
	cleanup = func() {}
	if certs == "" {
		dir, err = os.MkdirTemp("", "meshprobe-gopeer-"+c.name+"-")
		if err != nil {
			return "", cleanup, err
		}
		cleanup = func() { os.RemoveAll(dir) }
	} else {
		dir = filepath.Join(certs, c.name)
		if _, err := os.Stat(filepath.Join(dir, "name")); err == nil {
			return dir, cleanup, nil
		}
	}
	if err := writeMaterial(dir, c.build(newBuilder())); err != nil {
		cleanup()
		return "", func() {}, err
	}
	return dir, cleanup, nil
}

type meshprobeResult struct {
	Success   bool   `json:"success"`
	Diagnosis string `json:"diagnosis"`
	Message   string `json:"message"`
}

// runMeshprobe runs `meshprobe check ... --output json URL` and returns its
// first result.
func runMeshprobe(bin, caFile, name, target string) (meshprobeResult, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "--ca-file", caFile, "--server-name", name,
		"--timeout", "5s", "--output", "json", target)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	raw := strings.TrimSpace(stdout.String())
	var doc struct {
		Results []meshprobeResult `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Results) == 0 {
		return meshprobeResult{}, raw, fmt.Errorf("meshprobe printed no JSON result (exit: %v; stderr: %s; stdout: %s)",
			runErr, strings.TrimSpace(stderr.String()), raw)
	}
	return doc.Results[0], raw, nil
}

type goSide struct {
	ok    bool
	text  string // what the Go client printed: its error, or what it got
	inner string // the error under the caller's wrapper
}

func runGoClient(kind, addr string, m *material, caFile string) (goSide, error) {
	roots, err := readCAFile(caFile)
	if err != nil {
		return goSide{}, err
	}
	switch kind {
	case "https":
		r := webhookCall(webhookRequest{url: "https://" + addr + "/ready", roots: roots, serverName: m.name,
			method: http.MethodPost, timeout: 10 * time.Second})
		if r.OK {
			return goSide{ok: true, text: fmt.Sprintf("HTTP %d", r.Status)}, nil
		}
		return goSide{text: r.Error, inner: r.inner}, nil
	default:
		r := grpcCall(addr, roots, m.name, healthCheckMethod, defaultGrpcTimeout)
		text := fmt.Sprintf("code=%s message=%q", r.Code, r.Message)
		if r.reached {
			return goSide{ok: true, text: text}, nil
		}
		return goSide{text: text, inner: grpcTransportError(r.Message)}, nil
	}
}

// startCaseServer serves the case: openssl s_server when the case asks for
// it, else the Go server of the kind in this process.
func startCaseServer(c rcase, kind, dir string, m *material) (addr string, stop func(), err error) {
	if c.server.openssl != nil {
		return startOpenSSLServer(dir, c.server.openssl)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	cfg := serverTLSConfig(servingCert(m.chain, m.key), c.server)
	if kind == "https" {
		srv := newHTTPSServer(cfg, c.server, log.New(io.Discard, "", 0))
		go srv.ServeTLS(ln, "", "")
		return ln.Addr().String(), func() { srv.Close() }, nil
	}
	gs, err := newGRPCServer(cfg, "none")
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	go gs.Serve(ln)
	return ln.Addr().String(), gs.Stop, nil
}

type diffReport struct {
	Case        string `json:"case"`
	Kind        string `json:"kind"`
	Pass        bool   `json:"pass"`
	GoOK        bool   `json:"go_ok"`
	GoText      string `json:"go_text"`
	Expected    string `json:"expected"`
	MPSuccess   bool   `json:"meshprobe_success"`
	MPDiagnosis string `json:"meshprobe_diagnosis"`
	MPMessage   string `json:"meshprobe_message"`
	Problems    string `json:"problems"`
}

func cmdDifferential(args []string) int {
	fs := flag.NewFlagSet("differential", flag.ContinueOnError)
	mpBin := fs.String("meshprobe", "", "path of the meshprobe binary (required)")
	name := fs.String("case", "", "case name (required; see `cases`)")
	kind := fs.String("kind", "https", "https or grpc")
	certs := fs.String("certs", "", "directory to make (or reuse) the case's certificates in; default a temporary one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *mpBin == "" || *name == "" || fs.NArg() > 0 {
		return usageError(fs, "--meshprobe and --case are required; no positional arguments")
	}
	if *kind != "https" && *kind != "grpc" {
		return usageError(fs, "--kind must be https or grpc")
	}
	if gc, ok := findGrpcCase(*name); ok {
		if *kind != "grpc" {
			return usageError(fs, fmt.Sprintf("case %q is a gRPC server shape: --kind grpc", *name))
		}
		if st, err := os.Stat(*mpBin); err != nil || st.IsDir() {
			fmt.Printf("SKIP fidelity.grpc.%s: no meshprobe binary at %s\n", gc.name, *mpBin)
			return 77
		}
		return differentialGrpcShape(gc, *mpBin, *certs)
	}
	c, ok := findCase(*name)
	if !ok {
		return usageError(fs, fmt.Sprintf("unknown case %q (see `meshprobe-gopeer cases`)", *name))
	}
	id := "fidelity." + *kind + "." + c.name
	skip := func(reason string) int {
		fmt.Printf("SKIP %s: %s\n", id, reason)
		return 77
	}
	if st, err := os.Stat(*mpBin); err != nil || st.IsDir() {
		return skip(fmt.Sprintf("no meshprobe binary at %s", *mpBin))
	}
	if c.server.openssl != nil {
		if _, err := exec.LookPath("openssl"); err != nil {
			return skip("openssl is not installed (the case needs openssl s_server)")
		}
	}

	dir, cleanup, err := caseDir(c, *certs)
	if err != nil {
		fmt.Printf("FAIL %s: making certificates: %v\n", id, err)
		return 1
	}
	defer cleanup()
	m, err := readMaterial(dir)
	if err != nil {
		fmt.Printf("FAIL %s: reading certificates: %v\n", id, err)
		return 1
	}
	addr, stop, err := startCaseServer(c, *kind, dir, m)
	if err != nil {
		var s errSkip
		if errors.As(err, &s) {
			return skip(s.reason)
		}
		fmt.Printf("FAIL %s: starting the server: %v\n", id, err)
		return 1
	}
	defer stop()

	caFile := filepath.Join(dir, "bundle.pem")
	g, err := runGoClient(*kind, addr, m, caFile)
	if err != nil {
		fmt.Printf("FAIL %s: Go client: %v\n", id, err)
		return 1
	}
	target := "https://" + addr + "/ready"
	if *kind == "grpc" {
		target = "grpc://" + addr
	}
	mp, raw, err := runMeshprobe(*mpBin, caFile, m.name, target)
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", id, err)
		return 1
	}

	var problems []string
	// The table must still be Go's truth: what this Go (1.19) says.
	if g.ok != (c.goError == "") {
		problems = append(problems, fmt.Sprintf("the case table is wrong: it says Go %s, Go %s",
			verdictWord(c.goError == ""), verdictWord(g.ok)))
	} else if !g.ok && normalize(goErrorTail(g.inner)) != normalize(goErrorTail(c.goError)) {
		problems = append(problems, fmt.Sprintf("the case table is wrong: its Go error %q, Go said %q", c.goError, g.inner))
	}
	// What meshprobe must agree with: this Go, or current Go where the case
	// records a drift (its verdict and text are not this peer's to show).
	wantOK, wantText, source := g.ok, g.inner, "Go"
	if c.drift != nil {
		wantOK, wantText, source = c.drift.goError == "", c.drift.goError, "current Go (drift)"
		if c.drift.match != "" {
			wantText = c.drift.match
		}
	}
	// (a) same verdict
	if wantOK != mp.Success {
		problems = append(problems, fmt.Sprintf("verdict differs: %s %s, meshprobe %s", source, verdictWord(wantOK), verdictWord(mp.Success)))
	}
	// (b) the expected diagnosis
	if mp.Diagnosis != c.meshprobe {
		problems = append(problems, fmt.Sprintf("diagnosis %q, expected %q", mp.Diagnosis, c.meshprobe))
	}
	// (c) meshprobe's message carries Go's x509/TLS text
	if !wantOK && !messageCovers(mp.Message, wantText) {
		problems = append(problems, fmt.Sprintf("message lacks %s's text %q", source, normalize(goErrorTail(wantText))))
	}

	rep := diffReport{Case: c.name, Kind: *kind, Pass: len(problems) == 0, GoOK: g.ok, GoText: g.text,
		Expected: c.meshprobe, MPSuccess: mp.Success, MPDiagnosis: mp.Diagnosis, MPMessage: mp.Message,
		Problems: strings.Join(problems, "; ")}
	word := "PASS"
	if !rep.Pass {
		word = "FAIL"
	}
	fmt.Printf("%s %s\n", word, id)
	fmt.Printf("  rule:      %s\n", c.rule)
	fmt.Printf("  go:        %s: %s\n", verdictWord(g.ok), g.text)
	if c.drift != nil {
		fmt.Printf("  drift:     %s; current Go: %s\n", c.drift.note, currentVerdictText(c))
	}
	fmt.Printf("  meshprobe: %s: diagnosis=%s message=%q (expected diagnosis %s)\n",
		verdictWord(mp.Success), mp.Diagnosis, mp.Message, c.meshprobe)
	for _, p := range problems {
		fmt.Printf("  problem:   %s\n", p)
	}
	line, _ := json.Marshal(rep)
	fmt.Printf("  result:    %s\n", line)
	if os.Getenv("MESHPROBE_GOPEER_VERBOSE") != "" {
		fmt.Printf("  meshprobe output: %s\n", raw)
	}
	if !rep.Pass {
		return 1
	}
	return 0
}

func currentVerdictText(c rcase) string {
	if c.currentGoError() == "" {
		return "accepted"
	}
	return "refused: " + c.currentGoError()
}

func verdictWord(ok bool) string {
	if ok {
		return "accepted"
	}
	return "refused"
}
