package main

// The gRPC server shapes: not certificate rules, but what answers a gRPC
// call on the port. grpc-go's client (the sidecar's, in spirit) and
// meshprobe's grpc probe make the same call, Health/Check, over the same
// good chain; the verdicts must agree. Registered as fidelity.grpc.<case>
// from grpc_cases.txt.

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"path/filepath"
	"strings"
	"time"
)

// defaultGrpcTimeout bounds grpc-go's call, as in the certificate cases.
const defaultGrpcTimeout = 5 * time.Second

type gcase struct {
	name   string
	rule   string
	server string // "grpc-none", "grpc-serving" (grpc-go) or "https" (Go's net/http with h2)
	// What grpc-go's Health/Check call gets: its code, and whether the
	// status came from a gRPC server (not mapped from an HTTP answer).
	goCode    string
	goReached bool
	// What meshprobe must say: the diagnosis, grpc.status_name and
	// grpc.serving_status of its JSON ("" for null).
	meshprobe     string
	statusName    string
	servingStatus string
}

func grpcCases() []gcase {
	return []gcase{
		{name: "grpc_server_without_health",
			rule:   "a grpc-go server without the health service (istiod's xDS port): Health/Check is UNIMPLEMENTED, which still proves gRPC",
			server: "grpc-none", goCode: "Unimplemented", goReached: true,
			meshprobe: codeOK, statusName: "UNIMPLEMENTED"},
		{name: "grpc_health_serving",
			rule:   "a grpc-go server with the health service SERVING",
			server: "grpc-serving", goCode: "OK", goReached: true,
			meshprobe: codeOK, statusName: "OK", servingStatus: "SERVING"},
		{name: "grpc_at_go_https_server",
			rule:   "grpc:// at Go's net/http HTTPS server with HTTP/2 (istiod's webhook port 15017): h2 and SETTINGS, then a 404 text/plain",
			server: "https", goCode: "Unimplemented", goReached: false,
			meshprobe: "grpc_not_grpc"},
	}
}

func findGrpcCase(name string) (gcase, bool) {
	for _, c := range grpcCases() {
		if c.name == name {
			return c, true
		}
	}
	return gcase{}, false
}

func grpcCaseNames() []string {
	var names []string
	for _, c := range grpcCases() {
		names = append(names, c.name)
	}
	return names
}

// startGrpcShapeServer serves the shape on loopback with the material's chain.
func startGrpcShapeServer(c gcase, m *material) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	cfg := serverTLSConfig(servingCert(m.chain, m.key), serverSpec{})
	if c.server == "https" {
		srv := newHTTPSServer(cfg, serverSpec{}, log.New(io.Discard, "", 0))
		go srv.ServeTLS(ln, "", "")
		return ln.Addr().String(), func() { srv.Close() }, nil
	}
	gs, err := newGRPCServer(cfg, strings.TrimPrefix(c.server, "grpc-"))
	if err != nil {
		ln.Close()
		return "", nil, err
	}
	go gs.Serve(ln)
	return ln.Addr().String(), gs.Stop, nil
}

type meshprobeGrpc struct {
	Success   bool   `json:"success"`
	Diagnosis string `json:"diagnosis"`
	Message   string `json:"message"`
	Grpc      *struct {
		StatusName    *string `json:"status_name"`
		ServingStatus *string `json:"serving_status"`
	} `json:"grpc"`
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// grpcShapeGoSide is grpc-go's Health/Check against the shape's server.
func grpcShapeGoSide(c gcase, dir string) (grpcResult, error) {
	m, err := readMaterial(dir)
	if err != nil {
		return grpcResult{}, err
	}
	addr, stop, err := startGrpcShapeServer(c, m)
	if err != nil {
		return grpcResult{}, err
	}
	defer stop()
	roots, err := readCAFile(filepath.Join(dir, "bundle.pem"))
	if err != nil {
		return grpcResult{}, err
	}
	return grpcCall(addr, roots, m.name, healthCheckMethod, defaultGrpcTimeout), nil
}

// goSideProblems says where grpc-go no longer does what the case says.
func goSideProblems(c gcase, g grpcResult) []string {
	var problems []string
	if g.Code != c.goCode || g.reached != c.goReached {
		problems = append(problems, fmt.Sprintf("the case table is wrong: it says grpc-go gets %s (reached %v), grpc-go got %s (reached %v): %s",
			c.goCode, c.goReached, g.Code, g.reached, g.Message))
	}
	return problems
}

func differentialGrpcShape(c gcase, mpBin, certs string) int {
	id := "fidelity.grpc." + c.name
	good, _ := findCase("good_chain")
	dir, cleanup, err := caseDir(good, certs)
	if err != nil {
		fmt.Printf("FAIL %s: making certificates: %v\n", id, err)
		return 1
	}
	defer cleanup()
	g, err := grpcShapeGoSide(c, dir)
	if err != nil {
		fmt.Printf("FAIL %s: Go client: %v\n", id, err)
		return 1
	}
	m, err := readMaterial(dir)
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", id, err)
		return 1
	}
	addr, stop, err := startGrpcShapeServer(c, m)
	if err != nil {
		fmt.Printf("FAIL %s: starting the server: %v\n", id, err)
		return 1
	}
	defer stop()
	_, raw, err := runMeshprobe(mpBin, filepath.Join(dir, "bundle.pem"), m.name, "grpc://"+addr)
	if err != nil {
		fmt.Printf("FAIL %s: %v\n", id, err)
		return 1
	}
	var doc struct {
		Results []meshprobeGrpc `json:"results"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || len(doc.Results) == 0 {
		fmt.Printf("FAIL %s: meshprobe's JSON: %v\n", id, err)
		return 1
	}
	mp := doc.Results[0]
	problems := goSideProblems(c, g)
	if g.reached != mp.Success {
		problems = append(problems, fmt.Sprintf("verdict differs: grpc-go %s, meshprobe %s", verdictWord(g.reached), verdictWord(mp.Success)))
	}
	if mp.Diagnosis != c.meshprobe {
		problems = append(problems, fmt.Sprintf("diagnosis %q, expected %q", mp.Diagnosis, c.meshprobe))
	}
	var statusName, serving string
	if mp.Grpc != nil {
		statusName, serving = orEmpty(mp.Grpc.StatusName), orEmpty(mp.Grpc.ServingStatus)
	}
	if statusName != c.statusName || serving != c.servingStatus {
		problems = append(problems, fmt.Sprintf("meshprobe's grpc status %q serving %q, expected %q and %q", statusName, serving, c.statusName, c.servingStatus))
	}
	// grpc-go's code, in meshprobe's canonical spelling, where a status came.
	if g.reached && statusName != canonicalCodeName(g.Code) {
		problems = append(problems, fmt.Sprintf("grpc-go got %s, meshprobe %q", g.Code, statusName))
	}
	word := "PASS"
	if len(problems) > 0 {
		word = "FAIL"
	}
	fmt.Printf("%s %s\n  rule:      %s\n", word, id, c.rule)
	fmt.Printf("  go:        code=%s reached=%v serving=%s message=%q\n", g.Code, g.reached, g.ServingStatus, g.Message)
	fmt.Printf("  meshprobe: success=%v diagnosis=%s grpc status=%q serving=%q message=%q\n", mp.Success, mp.Diagnosis, statusName, serving, mp.Message)
	for _, p := range problems {
		fmt.Printf("  problem:   %s\n", p)
	}
	if len(problems) > 0 {
		return 1
	}
	return 0
}

// canonicalCodeName is grpc-go's code name ("Unimplemented", "NotFound") as
// gRPC's spec spells it ("UNIMPLEMENTED", "NOT_FOUND").
func canonicalCodeName(goName string) string {
	var b strings.Builder
	prevLower := false
	for _, r := range goName {
		if prevLower && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
		prevLower = r >= 'a' && r <= 'z'
	}
	name := strings.ToUpper(b.String())
	if name == "CANCELED" {
		return "CANCELLED"
	}
	return name
}
