//! The SDK clients' HTTPS: `warden::aws::sdk_config`'s client (hyper,
//! rustls on ring, the system's roots) completes a TLS handshake with a
//! server whose certificate it trusts and refuses one it does not. The
//! emulator speaks plain HTTP, so this is the one test of the TLS path a
//! Lambda takes to DynamoDB, SQS and Secrets Manager.
//!
//! The server is Python's `ssl` module with a certificate issued by a test
//! authority made with the `openssl` command, a TLS stack independent of
//! Warden's. Trust comes from
//! `SSL_CERT_FILE`, which replaces the system's roots: each case runs in a
//! child process with its own environment (changing this process's is
//! `unsafe`, and the workspace forbids unsafe code).

// Test helpers panic on purpose: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Set in the child process, with what it must see: `ok` or `refused`.
const CHILD: &str = "WARDEN_TLS_CHILD";

/// Answers every request the way DynamoDB answers `ListTables`.
const SERVER: &str = r#"
import http.server, ssl, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b'{"TableNames":["served-over-tls"]}'
        self.send_response(200)
        self.send_header("content-type", "application/x-amz-json-1.0")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Runs `openssl` with `args`, in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("the openssl command makes the test certificates");
    assert!(status.success(), "openssl {args:?} failed");
}

/// A certificate authority named `name` in `dir` (`name.pem`, `name.key`).
fn authority(dir: &Path, name: &str) -> PathBuf {
    let (cert, key, subject) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("/CN={name}"),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &subject,
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            &key,
            "-out",
            &cert,
        ],
    );
    dir.join(cert)
}

/// A certificate for `localhost` issued by the authority `ca` in `dir`:
/// (cert, key).
fn server_certificate(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-days",
            "1",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// The TLS server, killed when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts [`SERVER`] with `cert`; returns it and its port.
fn serve(cert: &Path, key: &Path) -> (Server, u16) {
    let mut child = Command::new("python3")
        .args(["-c", SERVER])
        .arg(cert)
        .arg(key)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs the TLS server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("port: {line:?}"));
    (Server(child), port)
}

/// Runs [`list_tables_over_tls`] in a child trusting only `roots`,
/// expecting `outcome`.
fn child(port: u16, roots: &Path, outcome: &str) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "list_tables_over_tls",
            "--ignored",
            "--nocapture",
        ])
        .env("AWS_ENDPOINT_URL", format!("https://localhost:{port}"))
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("SSL_CERT_FILE", roots)
        .env_remove("SSL_CERT_DIR")
        .env(CHILD, outcome)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && report.contains("1 passed"),
        "{outcome}: {report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_sdk_completes_a_tls_handshake_with_a_trusted_server_and_refuses_an_untrusted_one() {
    let dir = std::env::temp_dir().join(format!("warden-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let trusted = authority(&dir, "warden-test-ca");
    let other = authority(&dir, "another-ca");
    let (cert, key) = server_certificate(&dir, "warden-test-ca");
    let (_server, port) = serve(&cert, &key);
    child(port, &trusted, "ok");
    child(port, &other, "refused");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One `ListTables` through the Lambda configuration; only meaningful in
/// the child process above.
#[tokio::test]
#[ignore = "run by the_sdk_completes_a_tls_handshake_with_a_trusted_server_and_refuses_an_untrusted_one in a child process"]
async fn list_tables_over_tls() {
    let expected = std::env::var(CHILD).expect("run by the parent test");
    let sdk = warden::aws::sdk_config(&warden::aws::Guards::default(), None).unwrap();
    let outcome = aws_sdk_dynamodb::Client::new(&sdk)
        .list_tables()
        .send()
        .await;
    match expected.as_str() {
        "ok" => {
            let tables = outcome.expect("a trusted server answers");
            assert_eq!(tables.table_names(), ["served-over-tls"]);
        }
        _ => {
            let err = outcome.expect_err("an untrusted certificate is refused");
            let detail = format!(
                "{:?}",
                aws_smithy_types::error::display::DisplayErrorContext(&err)
            );
            assert!(
                detail.contains("certificate") || detail.contains("Certificate"),
                "refused for its certificate: {detail}"
            );
        }
    }
}
