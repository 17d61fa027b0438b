//! Field encryption against raw AES-256-GCM in the same run.
//!
//! `cargo bench -p ward-crypto --bench field -- --warm-up-time 1 --measurement-time 3`
//!
//! - `seal_open_1KiB`: ward's seal + open of 1 KiB (nonce generation, header, key commitment
//!   check) beside raw aes-gcm seal + open with a fresh OS-random nonce. Target: ≤ 1.25× raw.
//! - `open_100_fields_1KiB`: a request's work on one workspace: a `FieldCipher` from a warm
//!   `CachedKeySource` (over a KEK-unwrapping source), then 100 opens. Target: ≤ 150 µs.
//!   Beside it: raw aes-gcm opens, bare and with the plaintext in `Zeroizing` as ward returns it.

use std::hint::black_box;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ward_crypto::{
    CachePolicy, CachedKeySource, DataKey, DekId, FieldCipher, KeyMaterial, LocalKek,
    WrappedKeySource,
};

const KIB: usize = 1024;

fn raw_nonce() -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = [0u8; 12];
    getrandom::fill(&mut n).unwrap();
    Nonce::from(n)
}

fn seal_open(c: &mut Criterion) {
    let plaintext = vec![0x5Au8; KIB];
    let context = b"clients.medical_history:0f9e7c1a-5b2d-4c3e-8f10-1234567890ab";
    let mut group = c.benchmark_group("seal_open_1KiB");
    group.throughput(Throughput::Bytes(KIB as u64));

    let raw = Aes256Gcm::new(&[7u8; 32].into());
    group.bench_function("raw_aes_gcm", |b| {
        b.iter(|| {
            let nonce = raw_nonce();
            let sealed = raw
                .encrypt(
                    &nonce,
                    Payload {
                        msg: black_box(&plaintext),
                        aad: context,
                    },
                )
                .unwrap();
            let opened = raw
                .decrypt(
                    &nonce,
                    Payload {
                        msg: &sealed,
                        aad: context,
                    },
                )
                .unwrap();
            black_box(opened)
        })
    });

    let cipher = FieldCipher::new(&DataKey::generate(DekId(1)).unwrap());
    group.bench_function("ward_field", |b| {
        b.iter(|| {
            let sealed = cipher.seal(black_box(&plaintext), context).unwrap();
            black_box(cipher.open(&sealed, context).unwrap())
        })
    });
    group.finish();
}

fn open_100(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ring = format!(
        "1:{}:active",
        KeyMaterial::generate().unwrap().to_base64().as_str()
    );
    let kek = Arc::new(LocalKek::parse(&ring).unwrap());
    let wrapped = WrappedKeySource::new(kek, "workspace-0f9e7c1a");
    runtime.block_on(wrapped.generate()).unwrap();
    let source = Arc::new(CachedKeySource::new(
        wrapped,
        CachePolicy::new().with_max_uses(u64::MAX),
    ));

    let writer = runtime
        .block_on(FieldCipher::from_source(source.clone()))
        .unwrap();
    let contexts: Vec<String> = (0..100).map(|i| format!("clients.notes:{i}")).collect();
    let fields: Vec<Vec<u8>> = contexts
        .iter()
        .map(|ctx| writer.seal(&[0x33u8; KIB], ctx.as_bytes()).unwrap())
        .collect();

    let mut group = c.benchmark_group("open_100_fields_1KiB");
    group.throughput(Throughput::Bytes(100 * KIB as u64));

    let raw = Aes256Gcm::new(&[7u8; 32].into());
    let raw_fields: Vec<(Nonce<_>, Vec<u8>)> = contexts
        .iter()
        .map(|ctx| {
            let nonce = raw_nonce();
            let sealed = raw
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &[0x33u8; KIB],
                        aad: ctx.as_bytes(),
                    },
                )
                .unwrap();
            (nonce, sealed)
        })
        .collect();
    group.bench_function("raw_aes_gcm", |b| {
        b.iter(|| {
            for ((nonce, sealed), ctx) in raw_fields.iter().zip(&contexts) {
                black_box(
                    raw.decrypt(
                        nonce,
                        Payload {
                            msg: sealed,
                            aad: ctx.as_bytes(),
                        },
                    )
                    .unwrap(),
                );
            }
        })
    });

    // The same raw opens with each plaintext wrapped in `Zeroizing`, as ward returns it, so the
    // wipe on drop is on both sides of this comparison.
    group.bench_function("raw_aes_gcm_zeroized", |b| {
        b.iter(|| {
            for ((nonce, sealed), ctx) in raw_fields.iter().zip(&contexts) {
                black_box(zeroize::Zeroizing::new(
                    raw.decrypt(
                        nonce,
                        Payload {
                            msg: sealed,
                            aad: ctx.as_bytes(),
                        },
                    )
                    .unwrap(),
                ));
            }
        })
    });

    group.bench_function("ward_cached_dek", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let cipher = FieldCipher::from_source(source.clone()).await.unwrap();
                for (field, ctx) in fields.iter().zip(&contexts) {
                    black_box(cipher.open_resolving(field, ctx.as_bytes()).await.unwrap());
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, seal_open, open_100);
criterion_main!(benches);
