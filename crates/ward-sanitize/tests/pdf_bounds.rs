//! PDF bombs: small files built to make the loader allocate gigabytes or run for minutes.
//!
//! Each bomb is cleaned in a child process (this test binary run again, see [`bomb_child`])
//! under a 1 GiB address-space limit set with `ulimit -v`, so a regression fails the test
//! instead of taking the machine down. The child reports the error's rule and its peak resident
//! memory (`VmHWM`), and the parent asserts a typed refusal (or, for the files at the limit,
//! acceptance) below 256 MiB. `cargo test -p ward-sanitize --test tests pdf_bounds --
//! --nocapture` prints every size and peak.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use lopdf::{Document, EncryptionState, EncryptionVersion, Object, Permissions};
use ward_sanitize::{Error, Sanitizer};

use crate::common::zlib;

/// The environment variable that turns [`bomb_child`] into the measuring child.
const CHILD_ENV: &str = "WARD_PDF_BOMB";
/// Most memory a refused bomb may use, resident peak of the whole child process.
const PEAK_LIMIT_KIB: u64 = 256 * 1024;
/// The child's address-space limit: far above the allowed peak, far below the machine.
const ADDRESS_SPACE_KIB: u64 = 1024 * 1024;

/// Joins numbered object bodies into a PDF with a classic cross-reference table.
fn assemble(objects: &[(u32, Vec<u8>)], trailer: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (id, body) in objects {
        offsets.push((*id, out.len()));
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let size = objects.iter().map(|(id, _)| id + 1).max().unwrap_or(1);
    let xref = out.len();
    out.extend_from_slice(format!("xref\n0 {size}\n0000000000 65535 f \n").as_bytes());
    for id in 1..size {
        match offsets.iter().find(|(i, _)| *i == id) {
            Some((_, at)) => out.extend_from_slice(format!("{at:010} 00000 n \n").as_bytes()),
            None => out.extend_from_slice(b"0000000000 65535 f \n"),
        }
    }
    out.extend_from_slice(
        format!("trailer\n<< /Size {size} /Root 1 0 R {trailer} >>\nstartxref\n{xref}\n%%EOF\n")
            .as_bytes(),
    );
    out
}

/// Catalog (1), page tree (2) and one page (3).
fn page_tree() -> Vec<(u32, Vec<u8>)> {
    vec![
        (1, b"<< /Type /Catalog /Pages 2 0 R >>".to_vec()),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec()),
        (
            3,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>".to_vec(),
        ),
    ]
}

/// `[0 0 0 … 0]` with `elements` zeros.
fn zeros(elements: usize) -> Vec<u8> {
    let mut a = Vec::with_capacity(elements * 2 + 2);
    a.push(b'[');
    for _ in 0..elements {
        a.extend_from_slice(b"0 ");
    }
    a.push(b']');
    a
}

/// A FlateDecode object stream whose header lists `member` once per offset in `offsets`.
fn object_stream(first_member: u32, offsets: &[usize], body: &[u8]) -> Vec<u8> {
    let mut header = String::new();
    for (i, at) in offsets.iter().enumerate() {
        header.push_str(&format!("{} {at} ", first_member + i as u32));
    }
    let content = [header.as_bytes(), body].concat();
    let packed = zlib(&content);
    let mut s = format!(
        "<< /Type /ObjStm /N {} /First {} /Filter /FlateDecode /Length {} >>\nstream\n",
        offsets.len(),
        header.len(),
        packed.len()
    )
    .into_bytes();
    s.extend_from_slice(&packed);
    s.extend_from_slice(b"\nendstream");
    s
}

/// H1: one object stream of about 33 KB holding a 16-million-element array.
fn one_object_stream_bomb() -> Vec<u8> {
    let mut objects = page_tree();
    objects.push((4, object_stream(100, &[0], &zeros(16_000_000))));
    assemble(&objects, "")
}

/// H1 within the per-stream cap: a 4 MB object stream holding a two-million-element array.
fn object_stream_under_the_cap() -> Vec<u8> {
    let mut objects = page_tree();
    objects.push((4, object_stream(100, &[0], &zeros(2_000_000))));
    assemble(&objects, "")
}

/// Objects 1 to 5 and a cross-reference stream (6) that puts object 100 in object stream 5.
/// Object 4 is a stream whose `/Length` is object 100, so lopdf parses object stream 5 to
/// read that length, in the middle of parsing object 4, before any filter sees object 5.
fn indirect_length_into_object_stream() -> Vec<u8> {
    let mut objects = page_tree();
    objects.push((
        4,
        b"<< /Length 100 0 R >>\nstream\nBT ET\nendstream".to_vec(),
    ));
    objects.push((5, object_stream(100, &[0], &zeros(2_000_000))));
    let mut out = b"%PDF-1.7\n".to_vec();
    let mut offsets = Vec::new();
    for (id, body) in &objects {
        offsets.push(out.len());
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref_at = out.len();
    let mut entries = vec![0u8, 0, 0, 0, 0, 0xff, 0xff];
    for at in offsets.iter().chain([&xref_at]) {
        entries.push(1);
        entries.extend_from_slice(&(*at as u32).to_be_bytes());
        entries.extend_from_slice(&[0, 0]);
    }
    entries.extend_from_slice(&[2, 0, 0, 0, 5, 0, 0]);
    out.extend_from_slice(
        format!(
            "6 0 obj\n<< /Type /XRef /Size 101 /Index [0 7 100 1] /W [1 4 2] /Root 1 0 R /Length {} >>\nstream\n",
            entries.len()
        )
        .as_bytes(),
    );
    out.extend_from_slice(&entries);
    out.extend_from_slice(format!("\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n").as_bytes());
    out
}

/// H1: ten such streams.
fn ten_object_stream_bombs() -> Vec<u8> {
    let body = zeros(16_000_000);
    let mut objects = page_tree();
    for i in 0..10u32 {
        // Each stream holds a different member number, so none replaces another.
        objects.push((4 + i, object_stream(100 + i, &[0], &body)));
    }
    assemble(&objects, "")
}

/// H1: an array of about 4.7 million elements written out in the file body (9 MiB).
fn uncompressed_array_bomb() -> Vec<u8> {
    let mut objects = page_tree();
    objects.push((4, zeros(4_700_000)));
    assemble(&objects, "")
}

/// H1: the object-stream bomb and the uncompressed array in a file encrypted with an empty
/// user password, which lopdf opens and decrypts object by object.
fn encrypted_bomb() -> Vec<u8> {
    let id = Object::string_literal(vec![7u8; 16]);
    let mut doc = Document::with_version("1.7");
    doc.trailer.set("ID", vec![id.clone(), id]);
    let state = EncryptionState::try_from(EncryptionVersion::V1 {
        document: &doc,
        owner_password: "",
        user_password: "",
        permissions: Permissions::all(),
    })
    .unwrap();
    let encrypt = state.encode().unwrap();
    let mut dict = String::from("<<");
    for (k, v) in encrypt.iter() {
        dict.push_str(&format!(" /{} ", String::from_utf8_lossy(k)));
        match v {
            Object::Name(n) => dict.push_str(&format!("/{}", String::from_utf8_lossy(n))),
            Object::Integer(i) => dict.push_str(&i.to_string()),
            Object::Boolean(b) => dict.push_str(&b.to_string()),
            Object::String(s, _) => {
                dict.push('<');
                s.iter().for_each(|b| dict.push_str(&format!("{b:02x}")));
                dict.push('>');
            }
            other => panic!("unexpected value in the encryption dictionary: {other:?}"),
        }
    }
    dict.push_str(" >>");
    let mut objects = page_tree();
    objects.push((4, object_stream(100, &[0], &zeros(1_000_000))));
    objects.push((5, zeros(4_000_000)));
    objects.push((6, dict.into_bytes()));
    let hex = "07".repeat(16);
    assemble(&objects, &format!("/Encrypt 6 0 R /ID [<{hex}> <{hex}>]"))
}

/// One object stream whose header points 10,000 member numbers at the same 100,000-element
/// array: a 200 KB stream that lopdf would parse into a billion elements.
fn overlapping_members_bomb() -> Vec<u8> {
    let mut objects = page_tree();
    objects.push((4, object_stream(100, &[0; 10_000], &zeros(100_000))));
    assemble(&objects, "")
}

/// Twenty object streams, each one `null` and 3.5 MiB of white space: nothing to parse, each
/// under the per-stream cap, 70 MiB to inflate in all.
fn inflation_bomb() -> Vec<u8> {
    let mut body = b"null".to_vec();
    body.resize(3584 * 1024, b' ');
    let mut objects = page_tree();
    for i in 0..20u32 {
        objects.push((4 + i, object_stream(100 + i, &[0], &body)));
    }
    assemble(&objects, "")
}

/// Just under the default weight limit, in the costliest shape per unit (a one-byte name is
/// a 120-byte object plus an allocation): accepted, and the peak is the bound the crate states.
fn names_at_the_weight_limit() -> Vec<u8> {
    let mut names = b"[".to_vec();
    for _ in 0..499_900 {
        names.extend_from_slice(b"/a ");
    }
    names.push(b']');
    let mut objects = page_tree();
    objects[2].1 = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /X 4 0 R >>".to_vec();
    objects.push((4, names));
    assemble(&objects, "")
}

/// The same weight in an object stream, where every member counts twice.
fn object_stream_at_the_weight_limit() -> Vec<u8> {
    let mut objects = page_tree();
    objects[2].1 = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /X 100 0 R >>".to_vec();
    objects.push((4, object_stream(100, &[0], &zeros(249_900))));
    assemble(&objects, "")
}

/// A name, a builder, and the rules (or `ok`) the child may report.
type Bomb = (&'static str, fn() -> Vec<u8>, &'static [&'static str]);

/// What the child reported: the error's rule (or `ok`) and its peak resident memory.
struct Outcome {
    rule: String,
    peak_kib: u64,
}

/// Cleans `pdf` in a child process under the address-space limit.
fn run_child(name: &str, pdf: &[u8]) -> Result<Outcome, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pdf"));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(pdf))
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
        ))
        .arg(&exe)
        .args([
            "pdf_bounds::bomb_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .map(str::to_owned)
    };
    match (field("bomb-rule="), field("bomb-peak-kib=")) {
        (Some(rule), Some(peak)) => Ok(Outcome {
            rule,
            peak_kib: peak.parse().unwrap(),
        }),
        _ => Err(format!(
            "child died ({}) without a result: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        )),
    }
}

/// The child's half: does nothing unless [`CHILD_ENV`] names a file to clean.
#[test]
fn bomb_child() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let pdf = std::fs::read(Path::new(&path)).unwrap();
    let rule = match Sanitizer::new().sanitize("bomb.pdf", &pdf) {
        Ok(_) => "ok".to_owned(),
        Err(e) => {
            assert!(
                matches!(e, Error::Limit(_) | Error::Encrypted),
                "an untyped refusal: {e:?}"
            );
            e.rule().to_owned()
        }
    };
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let peak = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .map(|v| v.trim().to_owned())
        .unwrap();
    println!("\nbomb-rule={rule}\nbomb-peak-kib={peak}");
}

#[test]
fn pdf_bombs_are_refused_with_a_limit_in_bounded_memory() {
    // The two files at the weight limit are accepted: their peak is the bound a PDF that passes
    // may reach with the default limits.
    let bombs: [Bomb; 10] = [
        (
            "one_object_stream",
            one_object_stream_bomb,
            &["limit.pdf_stream", "limit.pdf_weight"],
        ),
        (
            "object_stream_under_the_cap",
            object_stream_under_the_cap,
            &["limit.pdf_weight"],
        ),
        (
            "indirect_length",
            indirect_length_into_object_stream,
            &["limit.pdf_weight"],
        ),
        (
            "ten_object_streams",
            ten_object_stream_bombs,
            &["limit.pdf_stream", "limit.pdf_weight"],
        ),
        (
            "uncompressed_array",
            uncompressed_array_bomb,
            &["limit.pdf_weight"],
        ),
        ("encrypted", encrypted_bomb, &["pdf.encrypted"]),
        (
            "overlapping_members",
            overlapping_members_bomb,
            &["limit.pdf_weight"],
        ),
        ("inflation", inflation_bomb, &["limit.pdf_inflated"]),
        (
            "names_at_the_weight_limit",
            names_at_the_weight_limit,
            &["ok"],
        ),
        (
            "object_stream_at_the_weight_limit",
            object_stream_at_the_weight_limit,
            &["ok"],
        ),
    ];
    let mut failures = Vec::new();
    for (name, build, expected) in bombs {
        let pdf = build();
        assert!(pdf.len() < 10 * 1024 * 1024, "{name} is an allowed upload");
        match run_child(name, &pdf) {
            Ok(o) => {
                eprintln!(
                    "{name}: {} bytes -> {} with a peak of {} KiB",
                    pdf.len(),
                    o.rule,
                    o.peak_kib
                );
                if !expected.contains(&o.rule.as_str()) {
                    failures.push(format!("{name}: {} instead of {expected:?}", o.rule));
                }
                if o.peak_kib >= PEAK_LIMIT_KIB {
                    failures.push(format!("{name}: peak {} KiB", o.peak_kib));
                }
            }
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn an_object_stream_that_cannot_be_weighed_first_is_refused() {
    // Any filter but FlateDecode: its content cannot be bounded before lopdf decodes it.
    let mut objects = page_tree();
    let content = b"100 0 [0 0 0]";
    let hex: String = content.iter().map(|b| format!("{b:02x}")).collect();
    objects.push((
        4,
        format!(
            "<< /Type /ObjStm /N 1 /First 6 /Filter /ASCIIHexDecode /Length {} >>\nstream\n{hex}>\nendstream",
            hex.len() + 1
        )
        .into_bytes(),
    ));
    let err = Sanitizer::new()
        .sanitize("f.pdf", &assemble(&objects, ""))
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert_eq!(err.rule(), "parse");
}
