//! `cargo run -p ward-sanitize --example make_photo -- OUT.jpg [WIDTH HEIGHT]`: writes a synthetic
//! photo-like JPEG (default 4000 × 3000, 12 megapixels) carrying EXIF with GPS-style text, XMP
//! and a comment, for timing the sanitizer against other tools on the same file.

use std::process::ExitCode;

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: make_photo OUT.jpg [WIDTH HEIGHT]");
        return ExitCode::from(1);
    };
    let width = args.get(1).and_then(|w| w.parse().ok()).unwrap_or(4000u32);
    let height = args.get(2).and_then(|h| h.parse().ok()).unwrap_or(3000u32);
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let img = RgbImage::from_fn(width, height, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed & 15) as u8;
        Rgb([
            ((x * 255 / width) as u8).wrapping_add(n),
            ((y * 255 / height) as u8).wrapping_add(n),
            (((x + y) / 16) as u8).wrapping_add(n),
        ])
    });
    let mut jpeg = Vec::new();
    if let Err(e) = JpegEncoder::new_with_quality(&mut jpeg, 90).encode_image(&img) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    let mut exif =
        b"Exif\0\0MM\0*\0\0\0\x08\0\x01\x01\x3b\0\x02\0\0\0\x10\0\0\0\x1a\0\0\0\0".to_vec();
    exif.extend_from_slice(b"GPS 51.5N 0.12W\0");
    let xmp = b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>author</x:xmpmeta>".to_vec();
    let mut out_bytes = jpeg[..2].to_vec();
    for (marker, body) in [(0xE1u8, exif), (0xE1, xmp), (0xFE, b"a comment".to_vec())] {
        out_bytes.extend_from_slice(&[0xFF, marker]);
        out_bytes.extend_from_slice(&(body.len() as u16 + 2).to_be_bytes());
        out_bytes.extend_from_slice(&body);
    }
    out_bytes.extend_from_slice(&jpeg[2..]);
    if let Err(e) = std::fs::write(out, &out_bytes) {
        eprintln!("error: {e}");
        return ExitCode::from(1);
    }
    println!("{width}x{height} jpeg, {} bytes", out_bytes.len());
    ExitCode::SUCCESS
}
