// Command meshprobe-gopeer is the Go side of meshprobe's fidelity tests: the
// servers and clients meshprobe has to agree with (istiod's net/http webhook
// server and grpc-go xDS server; kube-apiserver's net/http webhook client and
// a grpc-go client), the rule matrix of Go 1.19's crypto/x509 and crypto/tls
// verdicts on served chains, and the differential test that runs meshprobe
// against Go on one case.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

const usage = `usage: meshprobe-gopeer SUBCOMMAND [flags]

subcommands:
  https-server   --listen ADDR --cert F --key F [--port-file F]
  grpc-server    --listen ADDR --cert F --key F [--health serving|not-serving|none] [--port-file F]
  webhook-client --url URL [--ca-bundle F] --server-name NAME [--body F] [--dial IP:PORT] [--drop]
                 [--method POST|GET] [--timeout 10s]
  webhook-serve  --listen ADDR --cert F --key F --mode inject|deny|error|hang [--message M] [--port-file F]
  grpc-client    --target HOST:PORT --ca-file F --server-name NAME [--method M] [--timeout 5s]
  verify         --chain served.pem --roots bundle.pem --name NAME
  certgen        --out DIR
  cases          [--markdown] [--check cases.txt] [--check-grpc grpc_cases.txt]
  differential   --meshprobe PATH --case NAME --kind https|grpc [--certs DIR]
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	args := os.Args[2:]
	var rc int
	switch os.Args[1] {
	case "https-server":
		rc = cmdHTTPSServer(args)
	case "grpc-server":
		rc = cmdGRPCServer(args)
	case "webhook-client":
		rc = cmdWebhookClient(args)
	case "webhook-serve":
		rc = cmdWebhookServe(args)
	case "grpc-client":
		rc = cmdGRPCClient(args)
	case "verify":
		rc = cmdVerify(args)
	case "certgen":
		rc = cmdCertgen(args)
	case "cases":
		rc = cmdCases(args)
	case "differential":
		rc = cmdDifferential(args)
	case "-h", "--help", "help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "meshprobe-gopeer: unknown subcommand %q\n%s", os.Args[1], usage)
		rc = 2
	}
	os.Exit(rc)
}

func usageError(fs *flag.FlagSet, msg string) int {
	fmt.Fprintf(os.Stderr, "meshprobe-gopeer %s: %s\n", fs.Name(), msg)
	fs.Usage()
	return 2
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func notifySignals() <-chan os.Signal {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
	return c
}

func serverFlags(fs *flag.FlagSet) (listen, cert, key, portFile *string) {
	listen = fs.String("listen", "127.0.0.1:0", "address to listen on")
	cert = fs.String("cert", "", "PEM chain to serve, leaf first (required)")
	key = fs.String("key", "", "PEM private key (required)")
	portFile = fs.String("port-file", "", "write the bound HOST:PORT here (atomically)")
	return
}

func cmdHTTPSServer(args []string) int {
	fs := flag.NewFlagSet("https-server", flag.ContinueOnError)
	listen, cert, key, portFile := serverFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cert == "" || *key == "" || fs.NArg() > 0 {
		return usageError(fs, "--cert and --key are required; no positional arguments")
	}
	tc, err := loadServingCert(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer https-server:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer https-server:", err)
		return 1
	}
	srv := newHTTPSServer(serverTLSConfig(tc, serverSpec{}), serverSpec{}, nil)
	if err := announce(ln.Addr(), *portFile); err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer https-server:", err)
		return 1
	}
	return serveUntilSignal(func() error { return srv.ServeTLS(ln, "", "") },
		func(ctx context.Context) { srv.Shutdown(ctx) })
}

func cmdGRPCServer(args []string) int {
	fs := flag.NewFlagSet("grpc-server", flag.ContinueOnError)
	listen, cert, key, portFile := serverFlags(fs)
	healthMode := fs.String("health", "serving", "serving, not-serving or none")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cert == "" || *key == "" || fs.NArg() > 0 {
		return usageError(fs, "--cert and --key are required; no positional arguments")
	}
	tc, err := loadServingCert(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer grpc-server:", err)
		return 1
	}
	srv, err := newGRPCServer(serverTLSConfig(tc, serverSpec{}), *healthMode)
	if err != nil {
		return usageError(fs, err.Error())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer grpc-server:", err)
		return 1
	}
	if err := announce(ln.Addr(), *portFile); err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer grpc-server:", err)
		return 1
	}
	return serveUntilSignal(func() error { return srv.Serve(ln) },
		func(ctx context.Context) {
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-ctx.Done():
				srv.Stop()
			}
		})
}

func cmdWebhookClient(args []string) int {
	fs := flag.NewFlagSet("webhook-client", flag.ContinueOnError)
	rawURL := fs.String("url", "", "webhook URL (required)")
	var caBundle string
	fs.StringVar(&caBundle, "ca-bundle", "", "PEM CA bundle, as the webhook's caBundle; empty: the system roots")
	fs.StringVar(&caBundle, "ca-file", "", "the same as --ca-bundle")
	name := fs.String("server-name", "", "TLS ServerName, as SERVICE.NAMESPACE.svc (required)")
	method := fs.String("method", http.MethodPost, "POST (as kube-apiserver) or GET")
	timeout := fs.Duration("timeout", 10*time.Second, "the request's deadline (the webhook's timeoutSeconds)")
	bodyFile := fs.String("body", "", "file holding the AdmissionReview to POST (default: a minimal one)")
	dial := fs.String("dial", "", "IP:PORT to connect to for the URL's host, as the API server's service resolver")
	dropped := fs.Bool("drop", false, "the dial is dropped: no answer until the deadline")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *rawURL == "" || *name == "" || fs.NArg() > 0 {
		return usageError(fs, "--url and --server-name are required; no positional arguments")
	}
	if *method != http.MethodPost && *method != http.MethodGet {
		return usageError(fs, "--method must be POST or GET")
	}
	w := webhookRequest{url: *rawURL, serverName: *name, method: *method, timeout: *timeout, dial: *dial, dropped: *dropped}
	if caBundle != "" {
		roots, err := readCAFile(caBundle)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshprobe-gopeer webhook-client:", err)
			return 2
		}
		w.roots = roots
	}
	if *bodyFile != "" {
		data, err := os.ReadFile(*bodyFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "meshprobe-gopeer webhook-client:", err)
			return 2
		}
		w.body = string(data)
	}
	// An answer and an error are both results: exit 0 either way. The text
	// is current Go's, as the API server's message carries it.
	printJSON(webhookCall(w).currentGoText())
	return 0
}

func cmdGRPCClient(args []string) int {
	fs := flag.NewFlagSet("grpc-client", flag.ContinueOnError)
	target := fs.String("target", "", "HOST:PORT (required)")
	caFile := fs.String("ca-file", "", "PEM CA bundle (required)")
	name := fs.String("server-name", "", "TLS ServerName (required)")
	method := fs.String("method", healthCheckMethod, "unary method to call")
	timeout := fs.Duration("timeout", 5*time.Second, "call timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *target == "" || *caFile == "" || *name == "" || fs.NArg() > 0 {
		return usageError(fs, "--target, --ca-file and --server-name are required; no positional arguments")
	}
	roots, err := readCAFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer grpc-client:", err)
		return 2
	}
	printJSON(grpcCall(*target, roots, *name, *method, *timeout))
	return 0
}

func cmdVerify(args []string) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	chain := fs.String("chain", "", "served chain PEM, leaf first (required)")
	roots := fs.String("roots", "", "CA bundle PEM (required)")
	name := fs.String("name", "", "DNS name or IP to verify (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *chain == "" || *roots == "" || *name == "" || fs.NArg() > 0 {
		return usageError(fs, "--chain, --roots and --name are required; no positional arguments")
	}
	chainPEM, err := os.ReadFile(*chain)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer verify:", err)
		return 2
	}
	bundlePEM, err := os.ReadFile(*roots)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer verify:", err)
		return 2
	}
	r := verifyChain(chainPEM, bundlePEM, *name)
	printJSON(r)
	if r.OK {
		return 0
	}
	return 1
}

func cmdCertgen(args []string) int {
	fs := flag.NewFlagSet("certgen", flag.ContinueOnError)
	out := fs.String("out", "", "directory to write one subdirectory per case into (required)")
	only := fs.String("case", "", "write this case only")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" || fs.NArg() > 0 {
		return usageError(fs, "--out is required; no positional arguments")
	}
	n := 0
	for _, c := range allCases() {
		if *only != "" && c.name != *only {
			continue
		}
		if err := writeMaterial(filepath.Join(*out, c.name), c.build(newBuilder())); err != nil {
			fmt.Fprintf(os.Stderr, "meshprobe-gopeer certgen: %s: %v\n", c.name, err)
			return 1
		}
		n++
	}
	if n == 0 {
		return usageError(fs, fmt.Sprintf("unknown case %q", *only))
	}
	fmt.Fprintf(os.Stderr, "wrote %d cases under %s\n", n, *out)
	return 0
}

type caseRow struct {
	Case           string `json:"case"`
	Rule           string `json:"rule"`
	GoError        string `json:"go_error"`                   // Go 1.19's
	Meshprobe      string `json:"meshprobe"`                  // current Go's verdict
	Drift          string `json:"drift,omitempty"`            // why current Go differs
	CurrentGoError string `json:"current_go_error,omitempty"` // current Go's error, where it differs
}

func cmdCases(args []string) int {
	fs := flag.NewFlagSet("cases", flag.ContinueOnError)
	markdown := fs.Bool("markdown", false, "print a Markdown table")
	check := fs.String("check", "", "check that this file lists exactly the cases (one name a line)")
	checkGrpc := fs.String("check-grpc", "", "check that this file lists exactly the gRPC server shapes")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		return usageError(fs, "no positional arguments")
	}
	if *check != "" || *checkGrpc != "" {
		if *check != "" {
			if err := checkCaseList(*check); err != nil {
				fmt.Fprintln(os.Stderr, "meshprobe-gopeer cases:", err)
				return 1
			}
			fmt.Printf("%s lists the %d cases\n", *check, len(allCases()))
		}
		if *checkGrpc != "" {
			if err := checkNameList(*checkGrpc, grpcCaseNames()); err != nil {
				fmt.Fprintln(os.Stderr, "meshprobe-gopeer cases:", err)
				return 1
			}
			fmt.Printf("%s lists the %d gRPC server shapes\n", *checkGrpc, len(grpcCases()))
		}
		return 0
	}
	if *markdown {
		printMarkdownTable()
		return 0
	}
	for _, c := range allCases() {
		row := caseRow{Case: c.name, Rule: c.rule, GoError: c.goError, Meshprobe: c.meshprobe}
		if c.drift != nil {
			row.Drift, row.CurrentGoError = c.drift.note, c.drift.goError
		}
		printJSON(row)
	}
	return 0
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func mdError(text string) string {
	if text == "" {
		return "(accepted)"
	}
	return "`" + mdEscape(text) + "`"
}

// printMarkdownTable prints the rule table as README.md shows it: each
// rule, the error current Go gives (what the API server's log says), the
// code meshprobe gives, and where Go 1.19 differs, what it says and why.
func printMarkdownTable() {
	fmt.Println("| rule | Go's error | meshprobe | note |")
	fmt.Println("| --- | --- | --- | --- |")
	for _, c := range allCases() {
		note := ""
		if c.drift != nil {
			note = mdEscape(c.drift.note) + "; Go 1.19: " + mdError(c.goError)
			if c.drift.match != "" {
				note += "; the wrapping of current Go's text is read from its sources, meshprobe's message is checked for " + mdError(c.drift.match)
			}
		}
		fmt.Printf("| `%s`: %s | %s | `%s` | %s |\n", c.name, mdEscape(c.rule), mdError(c.currentGoError()), c.meshprobe, note)
	}
}

// checkCaseList compares a case list file (one name a line; blank lines and
// # comments ignored) with the table.
func checkCaseList(path string) error {
	var names []string
	for _, c := range allCases() {
		names = append(names, c.name)
	}
	return checkNameList(path, names)
}

// checkNameList compares a list file with the names it must list.
func checkNameList(path string, names []string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if listed[line] {
			return fmt.Errorf("%s lists %q twice", path, line)
		}
		listed[line] = true
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var missing, extra []string
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
		if !listed[n] {
			missing = append(missing, n)
		}
	}
	for n := range listed {
		if !known[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		return fmt.Errorf("%s is out of date: missing %v, unknown %v", path, missing, extra)
	}
	return nil
}
