//! Criterion benchmarks: lossless stripping of 12-megapixel JPEG, PNG and WebP files in memory,
//! the full sanitize (with decode) of the JPEG, a 50-page PDF, and the JPEG content check
//! (the entropy walk) alone on the photo and on 1 MiB of noise (the file `cargo xtask load`
//! uploads).
//!
//! Run with `cargo bench -p ward-sanitize --bench strip`; figures go to `docs/performance.md`.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use lopdf::{Document, Object, Stream, dictionary};
use ward_sanitize::{FileKind, Limits, Sanitizer};

/// A photo-like 4000 × 3000 image: gradients with a little noise.
fn photo() -> RgbImage {
    let (width, height) = (4000u32, 3000u32);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed & 15) as u8;
        Rgb([
            ((x * 255 / width) as u8).wrapping_add(n),
            ((y * 255 / height) as u8).wrapping_add(n),
            (((x + y) / 16) as u8).wrapping_add(n),
        ])
    })
}

/// Prepends an EXIF APP1 and a COM segment so there is something to strip.
fn with_jpeg_metadata(jpeg: &[u8]) -> Vec<u8> {
    let exif = b"Exif\0\0MM\0*\0\0\0\x08\0\0\0\0\0\0";
    let mut out = jpeg[..2].to_vec();
    for (marker, body) in [(0xE1u8, &exif[..]), (0xFE, b"comment")] {
        out.extend_from_slice(&[0xFF, marker]);
        out.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
        out.extend_from_slice(body);
    }
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A JPEG of noise of about 1 MiB at the encoder's default quality: nearly every coefficient
/// of every block is coded, the hardest ordinary input for the entropy walk.
fn noise_jpeg() -> Vec<u8> {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let img = RgbImage::from_fn(1186, 890, |_, _| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let [r, g, b, ..] = seed.to_le_bytes();
        Rgb([r, g, b])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .expect("jpeg");
    out
}

fn fifty_page_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.7");
    let pages_id = doc.new_object_id();
    let font = doc.add_object(
        dictionary! { "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica" },
    );
    let mut kids = Vec::new();
    for i in 0..50 {
        let text = format!("BT /F1 12 Tf 72 720 Td (Consent form page {i}) Tj ET\n").repeat(40);
        let content = doc.add_object(Stream::new(dictionary! {}, text.into_bytes()));
        let page = doc.add_object(dictionary! {
            "Type" => "Page", "Parent" => pages_id, "Contents" => content,
            "MediaBox" => vec![0.into(), 0.into(), 612.into(), 792.into()],
            "Resources" => dictionary! { "Font" => dictionary! { "F1" => font } },
        });
        kids.push(page.into());
    }
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => kids, "Count" => 50 }),
    );
    let catalog = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    let info = doc.add_object(dictionary! { "Author" => Object::string_literal("someone") });
    doc.trailer.set("Root", catalog);
    doc.trailer.set("Info", info);
    let mut out = Vec::new();
    doc.save_to(&mut out).expect("pdf");
    out
}

fn benches(c: &mut Criterion) {
    let img = photo();
    let sanitizer = Sanitizer::new().with_limits(Limits::default().with_max_file_bytes(64 << 20));

    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&img)
        .expect("jpeg");
    let jpeg = with_jpeg_metadata(&jpeg);
    let mut png = Vec::new();
    img.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .expect("png");
    let mut webp = Vec::new();
    DynamicImage::ImageRgb8(img)
        .write_to(&mut Cursor::new(&mut webp), ImageFormat::WebP)
        .expect("webp");
    let pdf = fifty_page_pdf();

    let mut g = c.benchmark_group("strip_12mp");
    for (name, kind, bytes) in [
        ("jpeg", FileKind::Jpeg, &jpeg),
        ("png", FileKind::Png, &png),
        ("webp", FileKind::Webp, &webp),
    ] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| {
                sanitizer
                    .strip_image(kind, black_box(bytes))
                    .expect("strip")
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sanitize");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(jpeg.len() as u64));
    g.bench_function("jpeg_12mp_with_decode", |b| {
        b.iter(|| sanitizer.sanitize("p.jpg", black_box(&jpeg)).expect("jpeg"))
    });
    g.throughput(Throughput::Bytes(pdf.len() as u64));
    g.bench_function("pdf_50_pages", |b| {
        b.iter(|| sanitizer.sanitize("f.pdf", black_box(&pdf)).expect("pdf"))
    });
    g.finish();

    // The content check alone: staging (stripping) is set-up, outside the timing.
    let noise = noise_jpeg();
    let mut g = c.benchmark_group("content_check");
    for (name, bytes) in [("jpeg_12mp", &jpeg), ("jpeg_noise_1mib", &noise)] {
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| {
            b.iter_batched(
                || sanitizer.stage("p.jpg", bytes).expect("stage"),
                |staged| staged.check().expect("check"),
                BatchSize::LargeInput,
            )
        });
    }
    g.finish();

    #[cfg(feature = "heic")]
    heic(c, &sanitizer);
}

/// A 12-megapixel phone HEIC (a grid of 48 tiles, EXIF, a thumbnail) from the test corpus:
/// the container rewrite alone, the libheif decode alone, and the whole `sanitize`.
/// `cargo bench -p ward-sanitize --features heic -- heic`.
#[cfg(feature = "heic")]
fn heic(c: &mut Criterion, sanitizer: &Sanitizer) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/heic/arrow.heic");
    let heic = std::fs::read(path).expect("corpus file");
    let mut g = c.benchmark_group("heic_12mp");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(heic.len() as u64));
    g.bench_function("strip", |b| {
        b.iter(|| {
            sanitizer
                .strip_image(FileKind::Heic, black_box(&heic))
                .expect("strip")
        })
    });
    g.bench_function("content_check", |b| {
        b.iter_batched(
            || sanitizer.stage("p.heic", &heic).expect("stage"),
            |staged| staged.check().expect("check"),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("sanitize", |b| {
        b.iter(|| {
            sanitizer
                .sanitize("p.heic", black_box(&heic))
                .expect("heic")
        })
    });
    g.finish();
}

criterion_group!(strip, benches);
criterion_main!(strip);
