package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

// The webhook-serve modes: what the admission webhook answers.
const (
	modeInject = "inject" // allowed, with istiod's sidecar injection as a JSONPatch
	modeDeny   = "deny"   // allowed: false, with a message, as istiod's validation
	modeError  = "error"  // HTTP 500, text/plain
	modeHang   = "hang"   // never answers
	// istiod's webhook port as a whole: /inject injects, /validate denies (the
	// probe's invalid Gateway), /ready answers 200.
	modeIstiod = "istiod"
)

// defaultDenyMessage is what istiod's validation says of a Gateway without servers.
const defaultDenyMessage = "configuration is invalid: gateway must have at least one server"

// admissionRequestReview is the part of an AdmissionReview this server reads.
type admissionRequestReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Request    *struct {
		UID    string          `json:"uid"`
		Object json.RawMessage `json:"object"`
	} `json:"request"`
}

type podShape struct {
	Metadata struct {
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Containers     []json.RawMessage `json:"containers"`
		InitContainers []json.RawMessage `json:"initContainers"`
		Volumes        []json.RawMessage `json:"volumes"`
	} `json:"spec"`
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// jsonPointerEscape escapes one RFC 6901 reference token.
func jsonPointerEscape(token string) string {
	return strings.ReplaceAll(strings.ReplaceAll(token, "~", "~0"), "/", "~1")
}

// addToMap adds key=value to the object at path (a map that may be absent),
// as a JSONPatch made by diffing the pod before and after would.
func addToMap(ops []patchOp, path string, existing map[string]string, key, value string) []patchOp {
	if existing == nil {
		return append(ops, patchOp{Op: "add", Path: path, Value: map[string]string{key: value}})
	}
	op := "add"
	if _, ok := existing[key]; ok {
		op = "replace"
	}
	return append(ops, patchOp{Op: op, Path: path + "/" + jsonPointerEscape(key), Value: value})
}

// appendToList appends value to the list at path (which may be absent).
func appendToList(ops []patchOp, path string, existing []json.RawMessage, value any) []patchOp {
	if existing == nil {
		return append(ops, patchOp{Op: "add", Path: path, Value: []any{value}})
	}
	return append(ops, patchOp{Op: "add", Path: fmt.Sprintf("%s/%d", path, len(existing)), Value: value})
}

// injectionPatch is what istiod's sidecar injector adds to a pod (reduced):
// the istio-init init container, the istio-proxy sidecar, its volumes, the
// sidecar.istio.io/status annotation and the security.istio.io/tlsMode label.
func injectionPatch(object json.RawMessage) ([]patchOp, error) {
	var pod podShape
	if err := json.Unmarshal(object, &pod); err != nil {
		return nil, fmt.Errorf("the object is not a pod: %v", err)
	}
	proxy := map[string]any{
		"name":  "istio-proxy",
		"image": "docker.io/istio/proxyv2:1.24.0",
		"args":  []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local"},
		"ports": []map[string]any{{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}},
		"volumeMounts": []map[string]any{
			{"mountPath": "/var/run/secrets/workload-spiffe-uds", "name": "workload-socket"},
			{"mountPath": "/etc/istio/proxy", "name": "istio-envoy"},
		},
	}
	initContainer := map[string]any{
		"name":  "istio-init",
		"image": "docker.io/istio/proxyv2:1.24.0",
		"args":  []string{"istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337"},
	}
	var ops []patchOp
	ops = appendToList(ops, "/spec/initContainers", pod.Spec.InitContainers, initContainer)
	ops = appendToList(ops, "/spec/containers", pod.Spec.Containers, proxy)
	ops = appendToList(ops, "/spec/volumes", pod.Spec.Volumes, map[string]any{"name": "workload-socket", "emptyDir": map[string]any{}})
	ops = append(ops, patchOp{Op: "add", Path: "/spec/volumes/-", Value: map[string]any{"name": "istio-envoy", "emptyDir": map[string]any{"medium": "Memory"}}})
	ops = addToMap(ops, "/metadata/annotations", pod.Metadata.Annotations, "sidecar.istio.io/status",
		`{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","istio-envoy"]}`)
	labels := pod.Metadata.Labels
	ops = addToMap(ops, "/metadata/labels", labels, "security.istio.io/tlsMode", "istio")
	if labels == nil {
		// The first label added the map; the next one goes inside it.
		labels = map[string]string{"security.istio.io/tlsMode": "istio"}
	}
	ops = addToMap(ops, "/metadata/labels", labels, "service.istio.io/canonical-revision", "latest")
	return ops, nil
}

// admissionHandler answers AdmissionReviews in the given mode.
func admissionHandler(mode, message string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mode == modeHang {
			// With the body read, net/http watches the connection and ends
			// the context when the caller gives up.
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		if mode == modeError {
			http.Error(w, message, http.StatusInternalServerError)
			return
		}
		data, err := io.ReadAll(io.LimitReader(r.Body, 3<<20))
		var review admissionRequestReview
		if err == nil {
			err = json.Unmarshal(data, &review)
		}
		if err == nil && review.Request == nil {
			err = fmt.Errorf("no request in the AdmissionReview")
		}
		if err != nil {
			// istiod's answer to a body it cannot decode.
			http.Error(w, fmt.Sprintf("could not decode body: %v", err), http.StatusBadRequest)
			return
		}
		response := map[string]any{"uid": review.Request.UID, "allowed": true}
		switch mode {
		case modeDeny:
			response["allowed"] = false
			response["status"] = map[string]any{"message": message}
		case modeInject:
			ops, err := injectionPatch(review.Request.Object)
			if err != nil {
				response["allowed"] = false
				response["status"] = map[string]any{"message": err.Error()}
				break
			}
			patch, _ := json.Marshal(ops)
			response["patch"] = base64.StdEncoding.EncodeToString(patch)
			response["patchType"] = "JSONPatch"
		}
		out, _ := json.Marshal(map[string]any{
			"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response,
		})
		w.Header().Set("Content-Type", "application/json")
		w.Write(out)
	}
}

// cmdWebhookServe is an admission webhook in istiod's shape: net/http over
// TLS with HTTP/2 on, answering every path.
func cmdWebhookServe(args []string) int {
	fs := flag.NewFlagSet("webhook-serve", flag.ContinueOnError)
	listen, cert, key, portFile := serverFlags(fs)
	mode := fs.String("mode", modeInject, "inject, deny, error, hang or istiod (/inject, /validate, /ready)")
	message := fs.String("message", "", "the denial's message (deny) or the error body (error)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cert == "" || *key == "" || fs.NArg() > 0 {
		return usageError(fs, "--cert and --key are required; no positional arguments")
	}
	switch *mode {
	case modeInject, modeHang, modeIstiod:
	case modeDeny:
		if *message == "" {
			*message = defaultDenyMessage
		}
	case modeError:
		if *message == "" {
			*message = "webhook failed"
		}
	default:
		return usageError(fs, "--mode must be inject, deny, error, hang or istiod")
	}
	tc, err := loadServingCert(*cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer webhook-serve:", err)
		return 1
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer webhook-serve:", err)
		return 1
	}
	cfg := serverTLSConfig(tc, serverSpec{})
	cfg.NextProtos = []string{"h2", "http/1.1"}
	var handler http.Handler = admissionHandler(*mode, *message)
	if *mode == modeIstiod {
		mux := http.NewServeMux()
		mux.Handle("/inject", admissionHandler(modeInject, ""))
		mux.Handle("/validate", admissionHandler(modeDeny, defaultDenyMessage))
		mux.HandleFunc("/ready", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ready\n") })
		handler = mux
	}
	srv := &http.Server{Handler: handler, TLSConfig: cfg}
	if err := announce(ln.Addr(), *portFile); err != nil {
		fmt.Fprintln(os.Stderr, "meshprobe-gopeer webhook-serve:", err)
		return 1
	}
	return serveUntilSignal(func() error { return srv.ServeTLS(ln, "", "") },
		func(ctx context.Context) { srv.Shutdown(ctx) })
}
