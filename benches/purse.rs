//! One ED/EP purchase tap (pboc-notes §4.3) through `quickpass::kernel::purse::purchase`
//! against the simulated T-Union purse and the simulated PSAM over the kernel's `Psam`: SELECT,
//! GET BALANCE, INITIALIZE, INIT SAM FOR PURCHASE, DEBIT, CREDIT SAM FOR PURCHASE, journal
//! entry and settlement record (in memory). The card and PSAM are personalised outside the
//! measurement, as a terminal would have them ready.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use quickpass::kernel::purse::{
    purchase, MemoryJournal, Psam, PurchaseRequest, PurseApplication, PurseConfig, PurseOutcome,
    SelectBy,
};
use quickpass::kernel::transport::ApduLayer;
use quickpass::kernel::values::{PurseAmount, TransactionDate, TransactionTime};
use quickpass_sim::{CardProfile, VirtualCard};

fn profile(name: &str) -> CardProfile {
    CardProfile::load(format!(
        "{}/vectors/cards/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("profile")
}

fn bench_purchase(c: &mut Criterion) {
    let card_profile = profile("transit-purse-capp");
    let psam_profile = profile("psam");
    let config = PurseConfig::new(PurseApplication::t_union());
    let request = PurchaseRequest {
        amount: PurseAmount::from_fen(200),
        date: TransactionDate::new(2024, 5, 17).expect("date"),
        time: TransactionTime::new(8, 30, 15).expect("time"),
    };
    let setup = || -> (ApduLayer<VirtualCard>, Psam<VirtualCard>, MemoryJournal) {
        let card = ApduLayer::new(card_profile.build().expect("card"));
        let psam = Psam::open(
            psam_profile.build().expect("psam"),
            &SelectBy::FileId(0x8011),
        )
        .expect("PSAM opens");
        (card, psam, MemoryJournal::new())
    };
    // With the PSAM's TAC check (DES INIT / DES CRYPT, the default) and without it.
    let mut unchecked = config.clone();
    unchecked.check_tac = false;
    for (name, config) in [
        (
            "purse purchase (virtual T-Union card + virtual PSAM)",
            &config,
        ),
        (
            "purse purchase (virtual T-Union card + virtual PSAM), TAC check off",
            &unchecked,
        ),
    ] {
        c.bench_function(name, |b| {
            b.iter_batched(
                setup,
                |(mut card, mut psam, mut journal)| {
                    let result = purchase(&mut card, &mut psam, &mut journal, config, &request)
                        .expect("purchase");
                    assert_eq!(result.outcome, PurseOutcome::Paid);
                    result
                },
                BatchSize::SmallInput,
            )
        });
    }
}

criterion_group!(benches, bench_purchase);
criterion_main!(benches);
