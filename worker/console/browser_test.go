package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// screenshotsEnv names the directory the browser test writes its screenshots
// to (docs/console for the README); unset, it writes none.
const screenshotsEnv = "PENSTOCK_SCREENSHOTS"

// TestConsoleInBrowser drives the console in headless Chromium (Debian's
// chromium, installed by scripts/deps.sh) against an in-process worker and
// broker: it creates a datagen-to-file pipeline through the form (after
// seeing a validation error at its field), sees the source RUNNING with
// throughput (records/s and bytes/s) above zero, restarts its failed tasks (none), edits it, pauses
// it, stops it, alters and resets its offsets and deletes it. Between, it
// sees the topics page, a record in the topic's live tail, the sink's group
// with its lag, and a Postgres snapshot of a private PostgreSQL server
// reach 100% on the connector's page.
func TestConsoleInBrowser(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: scripts/deps.sh installs it")
		}
		t.Skip("chromium not found: run scripts/deps.sh")
	}
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	outFile := filepath.Join(t.TempDir(), "out.txt")
	pg := testservice.Postgres(t)
	pgConn, err := pgx.Connect(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer pgConn.Close(context.Background())
	// Enough rows for several chunks; ANALYZE gives the planner's estimate
	// the progress bar measures against.
	if _, err := pgConn.Exec(context.Background(), `CREATE TABLE public.orders (id int PRIMARY KEY, item text NOT NULL, qty int NOT NULL);
		INSERT INTO public.orders SELECT i, 'item-' || i, i % 7 FROM generate_series(1, 20000) i;
		CREATE TABLE public.customers (id int PRIMARY KEY, name text NOT NULL);
		INSERT INTO public.customers SELECT i, 'customer-' || i FROM generate_series(1, 3000) i;
		ANALYZE public.orders; ANALYZE public.customers`); err != nil {
		t.Fatal(err)
	}

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 860))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first Run starts the browser; it must not carry a timeout.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	// Accept the console's confirm() dialogs (delete, reset offsets).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()

	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, scancel := context.WithTimeout(ctx, 60*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// until waits for a JavaScript expression to be truthy. A navigation
	// that replaces the page's JavaScript context mid-poll ("Cannot find
	// context with specified id") starts the poll again.
	until := func(what, expr string) {
		t.Helper()
		step(what, chromedp.Action[chromedp.Void](func(c context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			for {
				_, err := chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(45*time.Second), chromedp.WithPollingInterval(100*time.Millisecond))(c, tg)
				if err == nil || !strings.Contains(err.Error(), "Cannot find context") || c.Err() != nil {
					return chromedp.Void{}, err
				}
				time.Sleep(100 * time.Millisecond)
			}
		}))
	}
	js := func(expr string) chromedp.Action[chromedp.Void] { return chromedp.Evaluate[chromedp.Void](expr) }
	click := func(sel string) chromedp.Action[chromedp.Void] {
		// A click through JavaScript: the pages re-render every 2 s, so a
		// node found by one protocol call may be gone by the next.
		return js(fmt.Sprintf(`document.querySelector(%q).click()`, sel))
	}
	// fill replaces an input's value as typing would, firing input events.
	fill := func(sel, v string) chromedp.Action[chromedp.Void] {
		return js(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q;
			e.dispatchEvent(new Event('input', {bubbles: true})); e.dispatchEvent(new Event('change', {bubbles: true})); })()`, sel, v))
	}
	shot := func(name string) {
		t.Helper()
		dir := os.Getenv(screenshotsEnv)
		if dir == "" {
			return
		}
		sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
		defer scancel()
		if err := chromedp.Do(sctx, js(`document.getElementById('flash').hidden = true`)); err != nil {
			t.Fatal(err)
		}
		png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// GET / redirects a browser to the console.
	step("open console", chromedp.Navigate(w.URL+"/"))
	until("overview shown", `document.querySelector('main h1')?.textContent === 'Overview' && location.pathname === '/ui'`)

	// The sink through the form, without errors.
	step("new sink form", chromedp.Navigate(w.URL+"/ui#/new"))
	until("plugins listed", `document.querySelectorAll('#plugin option').length > 1`)
	step("choose FileStreamSink", fill("#plugin", "org.apache.kafka.connect.file.FileStreamSinkConnector"))
	until("sink fields", `!!document.querySelector('input[name="file"]') && !!document.querySelector('input[name="topics"]')`)
	step("fill sink", chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "console-sink"),
		chromedp.SendKeys(chromedp.CSS(`input[name="topics"]`), "console-gen"),
		chromedp.SendKeys(chromedp.CSS(`input[name="file"]`), outFile))
	until("sink valid", `document.querySelector('#summary').textContent === 'Valid'`)
	step("create sink", click("#submit"))
	until("sink page", `location.hash === '#/connectors/console-sink' && document.querySelector('main h1 .badge')?.textContent === 'RUNNING'`)

	// The source: a bad rate is shown at its field, then fixed.
	step("new source form", chromedp.Navigate(w.URL+"/ui#/new"))
	until("plugins listed", `document.querySelectorAll('#plugin option').length > 1`)
	step("choose datagen", fill("#plugin", "io.penstock.connect.datagen.DatagenConnector"))
	until("datagen fields", `!!document.querySelector('input[name="rate"]')`)
	step("fill source", chromedp.SendKeys(chromedp.CSS(`input[name="name"]`), "console-gen"),
		chromedp.SendKeys(chromedp.CSS(`input[name="topic"]`), "console-gen"),
		chromedp.SendKeys(chromedp.CSS(`input[name="rate"]`), "fast"))
	until("error at rate", `document.querySelector('[data-field="rate"]').classList.contains('invalid') &&
		document.querySelector('[data-field="rate"] .errors').textContent.includes('rate') &&
		!document.querySelector('[data-field="topic"]').classList.contains('invalid')`)
	shot("form")
	step("fix rate", fill(`input[name="rate"]`, "200"))
	until("source valid", `document.querySelector('#summary').textContent === 'Valid' &&
		!document.querySelector('[data-field="rate"]').classList.contains('invalid')`)
	step("create source", click("#submit"))
	until("source running", `location.hash === '#/connectors/console-gen' && document.querySelector('main h1 .badge')?.textContent === 'RUNNING'`)
	until("throughput above zero", `parseFloat(document.querySelector('#rate-out')?.textContent) > 0 &&
		parseFloat(document.querySelector('#rate-bytes')?.textContent) > 0 &&
		document.querySelectorAll('svg.chart polyline').length === 3`)
	if os.Getenv(screenshotsEnv) != "" {
		until("a few samples charted", `document.querySelector('svg.chart polyline.out')?.getAttribute('points').split(' ').length >= 6`)
	}
	shot("connector")

	// Restart, failed tasks only: none failed, so nothing restarts, and the API says so without error.
	step("restart only failed", js(`document.getElementById('only-failed').checked = true;
		document.getElementById('only-failed').dispatchEvent(new Event('change'))`), click(`button[data-act="restart"]`))
	until("restarted", `document.getElementById('flash').textContent.startsWith('restart: console-gen') &&
		document.getElementById('flash').className === 'ok'`)

	// Edit: the form shows the config; a changed rate is saved.
	step("edit source", chromedp.Navigate(w.URL+"/ui#/connectors/console-gen/edit"))
	until("edit form filled", `document.querySelector('input[name="rate"]')?.value === '200' &&
		document.querySelector('input[name="name"]').readOnly`)
	step("change rate", fill(`input[name="rate"]`, "300"))
	until("edit valid", `document.querySelector('#summary').textContent === 'Valid'`)
	step("save", click("#submit"))
	until("saved", `location.hash === '#/connectors/console-gen' && !!document.querySelector('main h1 .badge')`)
	var cfg map[string]string
	if r, err := e2e.Do("GET", w.URL+"/connectors/console-gen/config", nil); err != nil || r.Status != 200 {
		t.Fatalf("GET config: %v %v", r, err)
	} else if r.JSON(t, &cfg); cfg["rate"] != "300" || cfg["topic"] != "console-gen" {
		t.Fatalf("config after the edit: %v", cfg)
	}

	step("connector list", chromedp.Navigate(w.URL+"/ui#/connectors"))
	until("both listed", `document.querySelectorAll('tr[data-connector]').length === 2 &&
		[...document.querySelectorAll('tr[data-connector] td.num')].some(td => parseFloat(td.textContent) > 0)`)
	shot("connectors")
	step("overview", chromedp.Navigate(w.URL+"/ui#/"))
	until("overview counts", `document.querySelector('main .big')?.textContent === '2' && parseFloat(document.querySelector('#ov-out').textContent) > 0`)
	shot("overview")

	// Topics: the datagen topic listed with its records; its live tail
	// shows decoded records; the sink's group with its lag per partition;
	// the sink's page with its consumer lag.
	step("topics", chromedp.Navigate(w.URL+"/ui#/topics"))
	until("topic listed", `parseInt(document.querySelector('tr[data-topic="console-gen"] td:nth-child(4)')?.textContent) > 0`)
	shot("topics")
	step("tail", click(`tr[data-topic="console-gen"] a`))
	until("tail record", `location.hash === '#/topics/console-gen' && document.querySelectorAll('#tail tr.rec').length > 0 &&
		document.querySelector('#tail tr.rec pre.value').textContent.includes('seq')`)
	shot("tail")
	step("groups", chromedp.Navigate(w.URL+"/ui#/groups"))
	until("sink group", `!!document.querySelector('tr[data-group="connect-console-sink"]') && !!document.querySelector('details.group[data-group="connect-console-sink"]')`)
	step("group lag", js(`document.querySelector('details.group[data-group="connect-console-sink"]').open = true`))
	shot("groups")
	step("sink page", chromedp.Navigate(w.URL+"/ui#/connectors/console-sink"))
	until("sink lag", `!!document.getElementById('lag') && document.querySelectorAll('svg.chart polyline.lag').length === 1`)

	// A Postgres snapshot: its progress per table reaches 100%.
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "pg-orders", "config": map[string]string{
		"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "database.hostname": pg.Host,
		"database.port": strconv.Itoa(pg.Port), "database.user": pg.User, "database.dbname": pg.Database,
		"topic.prefix": "shop", "table.include.list": "public.orders,public.customers", "plugin.name": "pgoutput",
		"snapshot.chunk.size": "2000"}})
	step("postgres page", chromedp.Navigate(w.URL+"/ui#/connectors/pg-orders"))
	until("snapshot at 100%", `document.querySelectorAll('#snapshot tr[data-table]').length === 2 &&
		[...document.querySelectorAll('#snapshot .bar')].every(b => b.dataset.pct === '100') &&
		document.querySelector('#snapshot tr[data-table="public.orders"]').dataset.rows === '20000'`)
	until("slot lag", `!!document.getElementById('lag')`)
	if os.Getenv(screenshotsEnv) != "" {
		until("lag charted", `document.querySelectorAll('svg.chart polyline.lag').length === 1`)
	}
	shot("snapshot")
	e2e.Expect(t, 204, "DELETE", w.URL+"/connectors/pg-orders", nil)

	// Pause, stop, reset offsets, delete: from the connector's page.
	step("source page", chromedp.Navigate(w.URL+"/ui#/connectors/console-gen"))
	until("pause button", `document.querySelector('main h1')?.textContent.startsWith('console-gen') && !!document.querySelector('button[data-act="pause"]')`)
	step("pause", click(`button[data-act="pause"]`))
	until("paused", `document.querySelector('main h1 .badge')?.textContent === 'PAUSED'`)
	step("stop", click(`button[data-act="stop"]`))
	until("stopped with offsets", `document.querySelector('main h1 .badge')?.textContent === 'STOPPED' &&
		document.querySelectorAll('#offsets tbody code').length > 0 && !!document.querySelector('button[data-act="reset-offsets"]')`)
	step("alter offsets", js(`document.querySelector('.offsets-admin details').open = true`),
		fill("#offsets-edit", `{"offsets":[{"partition":{"task":0},"offset":{"seq":7}}]}`),
		click(`button[data-act="alter-offsets"]`))
	until("offsets altered", `document.querySelector('#offsets tbody')?.textContent.includes('{"seq":7}')`)
	shot("offsets")
	step("reset offsets", click(`button[data-act="reset-offsets"]`))
	until("offsets gone", `document.querySelector('#offsets tbody')?.textContent.includes('No offsets committed')`)
	var offs struct {
		Offsets []json.RawMessage `json:"offsets"`
	}
	if r, err := e2e.Do("GET", w.URL+"/connectors/console-gen/offsets", nil); err != nil || r.Status != 200 {
		t.Fatalf("GET offsets: %v %v", r, err)
	} else if r.JSON(t, &offs); len(offs.Offsets) != 0 {
		t.Fatalf("offsets after reset through the console: %s", r.Body)
	}
	step("delete", click(`button[data-act="delete"]`))
	until("deleted", `location.hash === '#/connectors' && document.querySelectorAll('tr[data-connector]').length === 1`)
	r, err := e2e.Do("GET", w.URL+"/connectors", nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	r.JSON(t, &names)
	if len(names) != 1 || names[0] != "console-sink" {
		t.Fatalf("connectors after deleting console-gen through the console: %s", r.Body)
	}
	if data, err := os.ReadFile(outFile); err != nil || len(data) == 0 {
		t.Fatalf("the file sink wrote nothing to %s: %v", outFile, err)
	}
}
