//! The pure webhook path, natively: parse + verify the signature + route, per event.
//! Run with `cargo bench --bench ingest_path` (prints figures; no harness needed).

use notion_framer_core::notion::{event, signature};
use std::hint::black_box;
use std::time::Instant;

fn main() {
    let token = "secret_tMrlL1qK5vuQAh1b6cZGhFChZTSYJlce98V0pYn7yBl";
    let database = "36cc9195-760f-4fff-a67e-3a46c559b176";
    let data_sources = vec!["98024f3c-b1d3-4aec-a301-f01e0dacf023".to_owned()];
    let bodies: Vec<(Vec<u8>, String)> = (0..1000)
        .map(|i| {
            let body = format!(
                r#"{{"id":"1782edd6-a853-4d4a-b02c-{i:012}","timestamp":"2024-12-05T23:57:05.379Z","workspace_id":"13950b26-c203-4f3b-b97d-93ec06319565","workspace_name":"Quantify Labs","subscription_id":"29d75c0d-5546-4414-8459-7b7a92f1fc4b","integration_id":"0ef2e755-4912-8096-91c1-00376a88a5ca","type":"page.properties_updated","authors":[{{"id":"c7c11cca-1d73-471d-9b6e-bdef51470190","type":"person"}}],"attempt_number":1,"api_version":"2025-09-03","entity":{{"id":"153104cd-477e-809d-8dc4-{i:012}","type":"page"}},"data":{{"parent":{{"id":"{database}","type":"database","data_source_id":"98024f3c-b1d3-4aec-a301-f01e0dacf023"}},"updated_properties":["XGe%40","title"]}}}}"#
            );
            let header = signature::sign(token, body.as_bytes());
            (body.into_bytes(), header)
        })
        .collect();

    let rounds = 50;
    let started = Instant::now();
    let mut relevant = 0usize;
    for _ in 0..rounds {
        for (body, header) in &bodies {
            signature::verify(token, body, Some(header)).expect("valid signature");
            if let Ok(event::Incoming::Event(event)) = event::parse(body) {
                if event::effect_for(&event, database, &data_sources).is_some() {
                    relevant += 1;
                }
            }
        }
    }
    let elapsed = started.elapsed();
    let events = rounds * bodies.len();
    assert_eq!(relevant, events);
    let per_event_us =
        elapsed.as_secs_f64() * 1e6 / f64::from(u32::try_from(events).unwrap_or(u32::MAX));
    println!("parse + verify + route: {events} events in {:.1} ms = {per_event_us:.2} us/event (goal < 50 us)", elapsed.as_secs_f64() * 1e3);
    black_box(relevant);
}
