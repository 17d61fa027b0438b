//! Stream format throughput beside raw AES-256-GCM (in memory) and a plain buffered copy (files).
//!
//! `cargo bench -p ward-crypto --bench stream -- --warm-up-time 1 --measurement-time 5 --sample-size 10`
//! (`aes_256_gcm_64KiB_chunk` alone compares the two AES-GCM implementations ward uses).

use std::hint::black_box;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use ward_crypto::stream::{StreamDecryptor, StreamEncryptor, decrypt_to_vec, encrypt_to_vec};
use ward_crypto::{DataKey, DekId, KeyMaterial};

const MIB: usize = 1024 * 1024;
const CHUNK: usize = 64 * 1024;
const IO_BUF: usize = 256 * 1024;

fn dek() -> DataKey {
    DataKey::new(DekId(1), KeyMaterial::from_bytes(&[7; 32]).unwrap())
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
}

fn nonce(i: usize, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&(i as u64).to_be_bytes());
    n[11] = u8::from(last);
    Nonce::assume_unique_for_key(n)
}

/// The baseline: the same 64 KiB chunks sealed with ring's AES-256-GCM (the implementation the
/// stream format uses) directly into one output buffer.
fn raw_seal(cipher: &LessSafeKey, pt: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(pt.len() + pt.len() / CHUNK * 16 + 16);
    let count = pt.len().div_ceil(CHUNK);
    for (i, chunk) in pt.chunks(CHUNK).enumerate() {
        let start = out.len();
        out.extend_from_slice(chunk);
        let tag = cipher
            .seal_in_place_separate_tag(nonce(i, i + 1 == count), Aad::empty(), &mut out[start..])
            .unwrap();
        out.extend_from_slice(tag.as_ref());
    }
    out
}

/// The baseline: open the chunks of [`raw_seal`] with ring directly into one output buffer.
fn raw_open(cipher: &LessSafeKey, ct: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(ct.len());
    let sealed = ct.chunks(CHUNK + 16);
    let count = sealed.len();
    for (i, chunk) in sealed.enumerate() {
        let (body, tag) = chunk.split_at(chunk.len() - 16);
        let start = out.len();
        out.extend_from_slice(body);
        let tag = Tag::try_from(tag).unwrap();
        cipher
            .open_in_place_separate_tag(
                nonce(i, i + 1 == count),
                Aad::empty(),
                tag,
                &mut out[start..],
                0..,
            )
            .unwrap();
    }
    out
}

fn in_memory(c: &mut Criterion) {
    let len = 64 * MIB;
    let pt = data(len);
    let dek = dek();
    let cipher = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let raw_ct = raw_seal(&cipher, &pt);
    let ct = encrypt_to_vec(&dek, &pt, b"bench").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let mut g = c.benchmark_group("stream_64MiB_in_memory");
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("encrypt/raw_ring", |b| {
        b.iter_with_large_drop(|| black_box(raw_seal(&cipher, black_box(&pt))))
    });
    g.bench_function("encrypt/stream_to_vec", |b| {
        b.iter_with_large_drop(|| {
            black_box(encrypt_to_vec(&dek, black_box(&pt), b"bench").unwrap())
        })
    });
    g.bench_function("encrypt/stream_async_writer", |b| {
        b.iter_with_large_drop(|| {
            rt.block_on(async {
                let mut enc = StreamEncryptor::new(
                    &dek,
                    Vec::with_capacity(len + len / CHUNK * 16 + 128),
                    b"bench",
                )
                .unwrap();
                enc.write_all(black_box(&pt)).await.unwrap();
                enc.shutdown().await.unwrap();
                black_box(enc.into_inner())
            })
        })
    });
    g.bench_function("decrypt/raw_ring", |b| {
        b.iter_with_large_drop(|| black_box(raw_open(&cipher, black_box(&raw_ct))))
    });
    g.bench_function("decrypt/stream_to_vec", |b| {
        b.iter_with_large_drop(|| {
            black_box(decrypt_to_vec(&dek, black_box(&ct), b"bench").unwrap())
        })
    });
    g.bench_function("decrypt/stream_async_reader", |b| {
        b.iter_with_large_drop(|| {
            rt.block_on(async {
                let mut dec = StreamDecryptor::new(&dek, black_box(&ct[..]), b"bench");
                let mut out = Vec::with_capacity(len + 64);
                dec.read_to_end(&mut out).await.unwrap();
                black_box(out)
            })
        })
    });
    g.finish();
}

/// Reads `path` ahead on its own task in `IO_BUF` pieces, at most two pieces waiting, so the
/// file reads overlap whatever the consumer does. Every file benchmark reads through this, the
/// plain copy included, so they differ only in what happens between read and write.
fn read_ahead(path: &Path) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel(2);
    let path = path.to_owned();
    tokio::spawn(async move {
        let mut file = tokio::fs::File::open(path).await.unwrap();
        loop {
            let mut buf = vec![0u8; IO_BUF];
            let mut filled = 0;
            while filled < IO_BUF {
                let n = file.read(&mut buf[filled..]).await.unwrap();
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                return;
            }
            buf.truncate(filled);
            if tx.send(buf).await.is_err() {
                return;
            }
        }
    });
    rx
}

/// An `AsyncRead` over the pieces [`read_ahead`] sends.
struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    piece: Vec<u8>,
    pos: usize,
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.pos == self.piece.len() {
            match ready!(self.rx.poll_recv(cx)) {
                Some(piece) => {
                    self.piece = piece;
                    self.pos = 0;
                }
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = out.remaining().min(self.piece.len() - self.pos);
        out.put_slice(&self.piece[self.pos..self.pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

async fn buffered_copy(from: &Path, to: &Path) {
    let mut src = read_ahead(from);
    let mut dst = tokio::fs::File::create(to).await.unwrap();
    while let Some(buf) = src.recv().await {
        dst.write_all(&buf).await.unwrap();
    }
    dst.shutdown().await.unwrap();
}

async fn encrypt_file(dek: &DataKey, from: &Path, to: &Path) {
    let mut src = read_ahead(from);
    let dst = tokio::fs::File::create(to).await.unwrap();
    let mut enc = StreamEncryptor::new(dek, dst, b"bench").unwrap();
    while let Some(buf) = src.recv().await {
        enc.write_all(&buf).await.unwrap();
    }
    enc.shutdown().await.unwrap();
}

async fn decrypt_file(dek: &DataKey, from: &Path, to: &Path) {
    let reader = ChannelReader {
        rx: read_ahead(from),
        piece: Vec::new(),
        pos: 0,
    };
    let mut dec = StreamDecryptor::new(dek, reader, b"bench");
    let mut dst = tokio::fs::File::create(to).await.unwrap();
    let mut buf = vec![0u8; IO_BUF];
    loop {
        let n = dec.read(&mut buf).await.unwrap();
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n]).await.unwrap();
    }
    dst.shutdown().await.unwrap();
}

fn file_to_file(c: &mut Criterion) {
    let len = 256 * MIB;
    let dir = tempfile::Builder::new()
        .prefix("ward-stream-bench")
        .tempdir_in("/tmp")
        .unwrap();
    let plain = dir.path().join("plain.bin");
    let sealed = dir.path().join("sealed.ward");
    let out = dir.path().join("out.bin");
    std::fs::write(&plain, data(len)).unwrap();
    let dek = dek();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    rt.block_on(encrypt_file(&dek, &plain, &sealed));

    let mut g = c.benchmark_group("stream_256MiB_file_to_file");
    g.throughput(Throughput::Bytes(len as u64));
    g.bench_function("buffered_copy", |b| {
        b.iter(|| rt.block_on(buffered_copy(&plain, &out)))
    });
    g.bench_function("stream_encrypt", |b| {
        b.iter(|| rt.block_on(encrypt_file(&dek, &plain, &out)))
    });
    g.bench_function("stream_decrypt", |b| {
        b.iter(|| rt.block_on(decrypt_file(&dek, &sealed, &out)))
    });
    g.finish();
}

/// The primitive alone, one 64 KiB chunk sealed in place in a reused buffer: ring (the stream
/// format's chunks) beside RustCrypto aes-gcm (long-lived keys), the reason for the split.
fn primitive(c: &mut Criterion) {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let ring = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[7; 32]).unwrap());
    let aes_gcm_crate = aes_gcm::Aes256Gcm::new(&[7; 32].into());
    let mut buf = vec![1u8; CHUNK];
    let mut g = c.benchmark_group("aes_256_gcm_64KiB_chunk");
    g.throughput(Throughput::Bytes(CHUNK as u64));
    g.bench_function("seal/ring", |b| {
        b.iter(|| {
            ring.seal_in_place_separate_tag(nonce(0, false), Aad::empty(), black_box(&mut buf))
                .unwrap()
        })
    });
    g.bench_function("seal/aes_gcm_crate", |b| {
        b.iter(|| {
            aes_gcm_crate
                .encrypt_inout_detached(&[0u8; 12].into(), b"", black_box(&mut buf[..]).into())
                .unwrap()
        })
    });
    g.finish();
}

criterion_group!(benches, primitive, in_memory, file_to_file);
criterion_main!(benches);
