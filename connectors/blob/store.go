package blob

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob" // file:// URLs
	"gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob" // mem:// URLs
	"gocloud.dev/blob/s3blob"
	"gocloud.dev/gcp"
	"golang.org/x/oauth2/google"
)

// openBucket opens the bucket the settings name: through gocloud's URL
// openers, or with an S3, GCS or Azure client built from Confluent's keys
// (static credentials, endpoints), falling back to each cloud's default
// credential chain.
func openBucket(ctx context.Context, s *settings) (*blob.Bucket, error) {
	switch {
	case s.url != "" && strings.HasPrefix(s.url, "s3://") && s.awsKey != "":
		u, err := url.Parse(s.url)
		if err != nil {
			return nil, err
		}
		q := u.Query()
		return openS3(ctx, s, u.Host, q.Get("endpoint"), q.Get("use_path_style") == "true" || q.Get("s3ForcePathStyle") == "true")
	case s.url != "":
		raw := s.url
		if strings.HasPrefix(raw, "file://") && !strings.Contains(raw, "create_dir=") {
			raw += map[bool]string{true: "&", false: "?"}[strings.Contains(raw, "?")] + "create_dir=true" // export directories need not exist
		}
		b, err := blob.OpenBucket(ctx, raw)
		if err != nil {
			return nil, fmt.Errorf("opening %s: %w", redactURL(s.url), err)
		}
		return b, nil
	case s.s3Bucket != "":
		return openS3(ctx, s, s.s3Bucket, s.s3Endpoint, s.s3PathStyle)
	case s.gcsBucket != "":
		return openGCS(ctx, s)
	case s.azContainer != "":
		return openAzure(ctx, s)
	}
	return nil, fmt.Errorf("no store configured")
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a bucket URL)"
	}
	return u.Redacted()
}

func openS3(ctx context.Context, s *settings, bucket, endpoint string, pathStyle bool) (*blob.Bucket, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(s.s3Region)}
	if s.awsKey != "" {
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(s.awsKey, s.awsSecret, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: loading the AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
		o.UsePathStyle = pathStyle
	})
	b, err := s3blob.OpenBucket(ctx, client, bucket, nil)
	if err != nil {
		return nil, fmt.Errorf("s3: opening bucket %q: %w", bucket, err)
	}
	return b, nil
}

func openGCS(ctx context.Context, s *settings) (*blob.Bucket, error) {
	var client *gcp.HTTPClient
	var err error
	switch {
	case os.Getenv("STORAGE_EMULATOR_HOST") != "":
		client = gcp.NewAnonymousHTTPClient(gcp.DefaultTransport())
	case s.gcsCreds != "":
		data, rerr := os.ReadFile(s.gcsCreds)
		if rerr != nil {
			return nil, fmt.Errorf("gcs: %s: %w", GCSCredentialsConfig, rerr)
		}
		creds, cerr := google.CredentialsFromJSON(ctx, data, "https://www.googleapis.com/auth/devstorage.read_write")
		if cerr != nil {
			return nil, fmt.Errorf("gcs: %s: %w", GCSCredentialsConfig, cerr)
		}
		client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
	default:
		creds, cerr := gcp.DefaultCredentials(ctx)
		if cerr != nil {
			return nil, fmt.Errorf("gcs: default credentials: %w", cerr)
		}
		client, err = gcp.NewHTTPClient(gcp.DefaultTransport(), gcp.CredentialsTokenSource(creds))
	}
	if err != nil {
		return nil, fmt.Errorf("gcs: %w", err)
	}
	b, err := gcsblob.OpenBucket(ctx, client, s.gcsBucket, nil)
	if err != nil {
		return nil, fmt.Errorf("gcs: opening bucket %q: %w", s.gcsBucket, err)
	}
	return b, nil
}

func openAzure(ctx context.Context, s *settings) (*blob.Bucket, error) {
	endpoint := strings.TrimRight(s.azEndpoint, "/")
	if endpoint == "" {
		endpoint = "https://" + s.azAccount + ".blob.core.windows.net"
	}
	containerURL := endpoint + "/" + s.azContainer
	var client *container.Client
	var err error
	if s.azKey != "" {
		cred, cerr := azblob.NewSharedKeyCredential(s.azAccount, s.azKey)
		if cerr != nil {
			return nil, fmt.Errorf("azure: %s: %w", AzKeyConfig, cerr)
		}
		client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, nil)
	} else {
		client, err = azureblob.NewDefaultClient(azureblob.ServiceURL(endpoint), azureblob.ContainerName(s.azContainer))
	}
	if err != nil {
		return nil, fmt.Errorf("azure: container %q: %w", s.azContainer, err)
	}
	b, err := azureblob.OpenBucket(ctx, client, nil)
	if err != nil {
		return nil, fmt.Errorf("azure: opening container %q: %w", s.azContainer, err)
	}
	return b, nil
}
