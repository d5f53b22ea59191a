//! The export flow unpacks by the package's declared `compressionType`, not by what it asked
//! for: the simulator is told to pack every export as TarGz while the client asks for Zip (and
//! the other way round).

mod common;

use std::time::Duration;

use ksef_client::ExportOptions;
use ksef_client::form_code;
use ksef_model::types::{
    CompressionType, InvoiceQueryDateRange, InvoiceQueryDateType, InvoiceQueryFilters,
    InvoiceQuerySubjectType,
};
use ksef_sim::Simulator;

use common::{fa3_invoice, logged_in, seeded_nip, start_simulator, unique};

async fn export_with(server: CompressionType, asked: CompressionType) {
    let sim = start_simulator(
        Simulator::builder()
            .processing_delays(Duration::from_millis(10))
            .export_compression(server.clone()),
    )
    .await;
    let client = logged_in(&sim).await;
    let nip = seeded_nip(&sim).to_string();
    let session = client.open_online_session(form_code::fa3()).await.unwrap();
    let run = unique("PKG");
    let mut sent = Vec::new();
    for n in 0..2 {
        let xml = fa3_invoice(&nip, &format!("{run}-{n}"));
        session.send(&xml).await.unwrap();
        sent.push(xml);
    }
    session.close().await.unwrap();
    session.wait_until_processed().await.unwrap();

    let from = (chrono::Utc::now() - chrono::Duration::days(1)).fixed_offset();
    let filters = InvoiceQueryFilters::new(
        InvoiceQuerySubjectType::Subject1,
        InvoiceQueryDateRange::new(InvoiceQueryDateType::Invoicing, from),
    );
    let job = client
        .start_export(
            filters,
            &ExportOptions::new().with_compression_type(asked.clone()),
        )
        .await
        .expect("export started");
    let package = job.wait().await.expect("package ready");
    assert_eq!(package.compression_type, server, "the simulator's packing");
    let mut contents = Vec::new();
    let unpacked = job
        .download(&package, |invoice| {
            contents.push(invoice.content);
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{server:?} package (asked {asked:?}): {e:?}"));
    assert_eq!(unpacked.invoice_count, 2);
    contents.sort();
    sent.sort();
    assert_eq!(contents, sent, "the invoices exactly as sent");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tar_gz_package_is_unpacked_though_zip_was_asked() {
    export_with(CompressionType::TarGz, CompressionType::Zip).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zip_package_is_unpacked_though_tar_gz_was_asked() {
    export_with(CompressionType::Zip, CompressionType::TarGz).await;
}
