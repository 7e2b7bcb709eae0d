package testservice

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
)

// AzuriteServer is a private Azure Blob Storage API server started by
// Azurite: Microsoft's emulator, with its well-known development account.
type AzuriteServer struct {
	// Endpoint is the blob service URL: http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string
	// Account and Key are the development account's name and shared key.
	Account, Key string
	// LogFile receives the server's output.
	LogFile string
}

// azuriteKey is Azurite's documented development account key.
const azuriteKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

// Azurite starts Azurite's blob service for the test and stops it on
// cleanup, storing in t.TempDir() and listening on a free 127.0.0.1 port.
// It skips the test when Azurite is not installed (fails with CI=true): run
// scripts/deps.sh.
func Azurite(t testing.TB) *AzuriteServer {
	t.Helper()
	bin := azuriteBinary(t)
	base := t.TempDir()
	s := &AzuriteServer{Account: "devstoreaccount1", Key: azuriteKey, LogFile: filepath.Join(base, "azurite.log")}
	data := filepath.Join(base, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatalf("testservice: azurite: %v", err)
	}
	port, _ := startOnFreePort(t, "azurite", s.LogFile, func(port int) (*process, func() error, error) {
		p, err := startProcess(procSpec{
			name: "azurite",
			path: bin,
			args: []string{"--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port), "--location", data,
				"--skipApiVersionCheck", "--loose", "--silent"},
			dropEnv:    []string{"AZURE_", "AZURITE_"},
			dir:        base,
			logPath:    s.LogFile,
			stopSignal: syscall.SIGTERM,
		})
		if err != nil {
			return nil, nil, err
		}
		url := fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1?comp=list", port)
		return p, func() error { return httpReady(url, func(int) bool { return true }) }, nil
	}, 60*time.Second)
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d/devstoreaccount1", port)
	return s
}

func azuriteBinary(t testing.TB) string {
	t.Helper()
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "penstock", "azurite", "node_modules", ".bin", "azurite-blob")
	if isExecutable(p) {
		return p
	}
	return findBinary(t, "install it with scripts/deps.sh (or shared/scripts/install-azurite.sh)", "azurite-blob")
}

func (s *AzuriteServer) client(t testing.TB) *azblob.Client {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(s.Account, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(s.Endpoint+"/", cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateContainer creates an empty container and returns its name.
func (s *AzuriteServer) CreateContainer(t testing.TB, name string) string {
	t.Helper()
	if _, err := s.client(t).CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("testservice: azurite: create container %q: %v", name, err)
	}
	return name
}

// Objects lists the names of a container's blobs under prefix.
func (s *AzuriteServer) Objects(t testing.TB, container, prefix string) []string {
	t.Helper()
	var names []string
	pager := s.client(t).NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("testservice: azurite: list: %v", err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	return names
}

// Object returns a blob's bytes.
func (s *AzuriteServer) Object(t testing.TB, container, name string) []byte {
	t.Helper()
	resp, err := s.client(t).DownloadStream(context.Background(), container, name, nil)
	if err != nil {
		t.Fatalf("testservice: azurite: get %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testservice: azurite: get %s: %v", name, err)
	}
	return b
}
