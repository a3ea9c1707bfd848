package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cases.txt (read by CMake at configure time) must list exactly the table.
func TestCaseListFile(t *testing.T) {
	if err := checkCaseList("cases.txt"); err != nil {
		t.Fatal(err)
	}
}

func TestTableIsWellFormed(t *testing.T) {
	codes := map[string]bool{codeOK: true, codeName: true, codeExp: true, codeNYV: true, codeUA: true, codeInv: true, codeProto: true}
	seen := map[string]bool{}
	for _, c := range allCases() {
		if seen[c.name] {
			t.Errorf("case %q twice", c.name)
		}
		seen[c.name] = true
		if !codes[c.meshprobe] {
			t.Errorf("%s: unknown meshprobe code %q", c.name, c.meshprobe)
		}
		// meshprobe gives current Go's verdict: Go 1.19's unless a drift says otherwise.
		if (c.currentGoError() == "") != (c.meshprobe == codeOK) {
			t.Errorf("%s: current Go error %q but meshprobe code %q", c.name, c.currentGoError(), c.meshprobe)
		}
		if c.drift != nil {
			if c.drift.note == "" {
				t.Errorf("%s: a drift without a note", c.name)
			}
			if c.drift.match != "" && !strings.Contains(c.drift.goError, c.drift.match) {
				t.Errorf("%s: the drift's match %q is not part of its error %q", c.name, c.drift.match, c.drift.goError)
			}
			if c.drift.goError == c.goError && c.drift.goError == "" {
				t.Errorf("%s: a drift that changes nothing", c.name)
			}
		}
		if c.rule == "" || c.build == nil {
			t.Errorf("%s: no rule or no builder", c.name)
		}
	}
}

// Every entry's Go verdict and error text is what Go 1.19 says, through
// both the webhook client (net/http) and the grpc-go client.
func TestTableIsGoTruth(t *testing.T) {
	_, opensslErr := exec.LookPath("openssl")
	for _, c := range allCases() {
		c := c
		t.Run(c.name, func(t *testing.T) {
			if c.server.openssl != nil && opensslErr != nil {
				t.Skip("openssl is not installed")
			}
			t.Parallel()
			dir := filepath.Join(t.TempDir(), c.name)
			if err := writeMaterial(dir, c.build(newBuilder())); err != nil {
				t.Fatal(err)
			}
			m, err := readMaterial(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, kind := range []string{"https", "grpc"} {
				addr, stop, err := startCaseServer(c, kind, dir, m)
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				g, err := runGoClient(kind, addr, m, filepath.Join(dir, "bundle.pem"))
				stop()
				if err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				if g.ok != (c.goError == "") {
					t.Errorf("%s: table says Go %s, Go %s: %s", kind, verdictWord(c.goError == ""), verdictWord(g.ok), g.text)
					continue
				}
				if g.ok {
					continue
				}
				if kind == "https" && normalize(g.inner) != normalize(c.goError) {
					t.Errorf("https: Go said %q, the table has %q", g.inner, c.goError)
				}
				if got, want := normalize(goErrorTail(g.inner)), normalize(goErrorTail(c.goError)); got != want {
					t.Errorf("%s: Go said %q, the table has %q", kind, got, want)
				}
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"current time 2026-12-03T08:20:50Z is after 2026-12-03T07:20:50+01:00",
			"current time <time> is after <time>"},
		{`Post "https://127.0.0.1:4431/ready": x509: a`, `Post "https://127.0.0.1:<port>/ready": x509: a`},
		{`candidate "serial:12345"`, `candidate "serial:<serial>"`},
		{`because of \"x\"  while`, `because of "x" while`},
		{"tls: handshake message of length 81234 bytes exceeds maximum of 65536 bytes",
			"tls: handshake message of length <n> bytes exceeds maximum of 65536 bytes"},
	} {
		if got := normalize(tc.in); got != tc.want {
			t.Errorf("normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if goErrorTail(`connection error: desc = "transport: authentication handshake failed: x509: y"`) != `x509: y"` {
		t.Error("goErrorTail should start at x509: ")
	}
	if !messageCovers("the server certificate: x509: certificate has expired or is not yet valid: current time 2026-01-01T00:00:00Z is after 2025-01-01T00:00:00Z (depth 0)",
		`Post "https://127.0.0.1:1/ready": x509: certificate has expired or is not yet valid: current time 2026-01-02T00:00:00Z is after 2025-01-01T00:00:00Z`) {
		t.Error("messageCovers should ignore times and the Post wrapper")
	}
	if got := grpcTransportError(`connection error: desc = "transport: authentication handshake failed: x509: a \"b\""`); got != `transport: authentication handshake failed: x509: a "b"` {
		t.Errorf("grpcTransportError: %q", got)
	}
}

// grpc_cases.txt (read by CMake) must list exactly the gRPC server shapes,
// and each shape's grpc-go verdict is what grpc-go says.
func TestGrpcCasesAreGoTruth(t *testing.T) {
	if err := checkNameList("grpc_cases.txt", grpcCaseNames()); err != nil {
		t.Fatal(err)
	}
	good, _ := findCase("good_chain")
	dir := filepath.Join(t.TempDir(), "good_chain")
	if err := writeMaterial(dir, good.build(newBuilder())); err != nil {
		t.Fatal(err)
	}
	for _, c := range grpcCases() {
		g, err := grpcShapeGoSide(c, dir)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, p := range goSideProblems(c, g) {
			t.Errorf("%s: %s", c.name, p)
		}
	}
}
