package hetzner

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// maxRetries bounds the retries of one request; Create and Delete have their
// own, higher-level recovery on top.
const maxRetries = 5

// maxBody bounds what is read of one API answer.
const maxBody = 8 << 20

// APIError is an error answer of the Hetzner Cloud API. Callers branch on Code,
// the API's stable error code (not_found, uniqueness_error, conflict, ...),
// never on Message.
type APIError struct {
	Method  string
	Path    string
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	code := e.Code
	if code == "" {
		code = "no error code"
	}
	return fmt.Sprintf("%s %s: HTTP %d, %s: %s", e.Method, e.Path, e.Status, code, e.Message)
}

// apiClient speaks the REST API: JSON in and out, the token in the
// Authorization header and nowhere else, one retry policy per method.
type apiClient struct {
	endpoint     string
	token        string
	httpClient   *http.Client
	log          *slog.Logger
	backoff      func(attempt int) time.Duration
	maxRetryWait time.Duration
	now          func() time.Time
}

// do sends one request (retried per retryPolicy) and decodes the answer into
// out. An error answer is an *APIError; anything else (transport, a body cut
// short) is returned wrapped with the method and path.
func (c *apiClient) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	u := c.endpoint + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body any
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		body = b
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "meshready")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	// A client per request: the policy depends on the method, and CheckRetry
	// sees no request when the transport failed. Logger stays nil: we log
	// ourselves, without headers.
	rc := &retryablehttp.Client{
		HTTPClient:   c.httpClient,
		RetryMax:     maxRetries,
		CheckRetry:   retryPolicy(method),
		Backoff:      c.backoffFor(method, path),
		ErrorHandler: lastAnswer,
	}
	resp, err := rc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, path, ctx.Err())
		}
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return fmt.Errorf("%s %s: read answer (HTTP %d): %w", method, path, resp.StatusCode, err)
	}
	c.log.Debug("hetzner api", "method", method, "path", path, "status", resp.StatusCode,
		"ratelimit_remaining", resp.Header.Get("RateLimit-Remaining"))
	if resp.StatusCode >= 400 {
		return apiError(method, path, resp.StatusCode, data)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode answer (HTTP %d): %w", method, path, resp.StatusCode, err)
	}
	return nil
}

func apiError(method, path string, status int, data []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status}
	var b wireErrorBody
	if json.Unmarshal(data, &b) == nil {
		e.Code, e.Message = b.Error.Code, b.Error.Message
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// lastAnswer hands back the last answer when retries run out, so that its
// error body is decoded like any other, instead of retryablehttp's generic
// "giving up" that drops it.
func lastAnswer(resp *http.Response, err error, _ int) (*http.Response, error) {
	if err != nil && resp != nil {
		resp.Body.Close()
		return nil, err
	}
	return resp, err
}

// retryPolicy decides which failures are repeated. Only what cannot have
// changed anything is repeated for a POST: a 429 (refused before it ran) and a
// connection that was never made. 5xx and transport errors are repeated for
// GET and DELETE only: a POST /servers that timed out may have made a server,
// and Create resolves that by looking, not by asking again. A DELETE that met
// a lock (another action on the server) is repeated too.
func retryPolicy(method string) retryablehttp.CheckRetry {
	repeatable := method == http.MethodGet || method == http.MethodDelete
	return func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		if err != nil {
			var certErr *tls.CertificateVerificationError
			if errors.As(err, &certErr) {
				return false, nil
			}
			return repeatable || neverSent(err), nil
		}
		switch resp.StatusCode {
		case http.StatusTooManyRequests:
			return true, nil
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return repeatable, nil
		case http.StatusConflict, http.StatusLocked:
			if method != http.MethodDelete {
				return false, nil
			}
			code := peekErrorCode(resp)
			return code == "conflict" || code == "locked", nil
		}
		return false, nil
	}
}

// neverSent reports a failure to connect: the request did not leave.
func neverSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// peekErrorCode reads the error code and puts the body back for the caller.
func peekErrorCode(resp *http.Response) string {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(data))
	var b wireErrorBody
	if json.Unmarshal(data, &b) != nil {
		return ""
	}
	return b.Error.Code
}

// backoffFor waits Options.Backoff, or longer when a 429 says how long.
func (c *apiClient) backoffFor(method, path string) retryablehttp.Backoff {
	return func(_, _ time.Duration, attempt int, resp *http.Response) time.Duration {
		wait := c.backoff(attempt)
		status := 0
		if resp != nil {
			status = resp.StatusCode
			if status == http.StatusTooManyRequests {
				if d, ok := rateLimitWait(resp.Header, c.now()); ok {
					wait = max(wait, min(d, c.maxRetryWait))
				}
			}
		}
		c.log.Debug("hetzner api retry", "method", method, "path", path, "status", status,
			"attempt", attempt+1, "wait", wait)
		return wait
	}
}

// rateLimitWait is how long a 429 asks us to wait: Retry-After when given,
// else from RateLimit-Reset. Hetzner's RateLimit-Reset is when the budget is
// full again (it refills gradually, one request a second at 3600/h), so the
// wait for one more request is the time to full divided by what is missing.
func rateLimitWait(h http.Header, now time.Time) (time.Duration, bool) {
	if s := h.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			return time.Duration(secs) * time.Second, true
		}
		if t, err := http.ParseTime(s); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	reset, err := strconv.ParseInt(h.Get("RateLimit-Reset"), 10, 64)
	if err != nil {
		return 0, false
	}
	untilFull := time.Unix(reset, 0).Sub(now)
	if untilFull <= 0 {
		return 0, true
	}
	limit, errL := strconv.Atoi(h.Get("RateLimit-Limit"))
	remaining, errR := strconv.Atoi(h.Get("RateLimit-Remaining"))
	if errL == nil && errR == nil && remaining >= 0 && limit > remaining {
		return untilFull / time.Duration(limit-remaining), true
	}
	return untilFull, true
}

// ambiguous reports a failure after which a POST may or may not have taken
// effect: the answer was lost (transport, cut short) or the API failed (5xx).
// A 4xx is a clear no; a cancelled ctx is the caller giving up.
func ambiguous(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Status >= 500
	}
	return true
}

// hasCode reports an *APIError with the given code.
func hasCode(err error, code string) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.Code == code
}
