//! `yagura serve [--config FILE] [--listen ADDR] [--inventory FILE] [--tls-cert F --tls-key F]`

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use yagura_model::{Inventory, OrgId};
use yagura_server::AppState;
use yagura_server::auth::PasswordHashing;
use yagura_server::config::{DEFAULT_LISTEN, ServerConfig, TlsSection};
use yagura_store::{SqliteStore, StateStore};

use crate::Globals;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Server configuration (TOML: listen, inventory, database, [tls] cert/key, …).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on (overrides the configuration; default 127.0.0.1:8080).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// The inventory (DESIGN.md §4) whose organizations the server serves.
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// PEM certificate chain: serve HTTPS (with --tls-key).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Create this center administrator (in ORG) if it does not exist yet, with the password
    /// from $YAGURA_ADMIN_PASSWORD. Form: NAME@ORG.
    #[arg(long, value_name = "NAME@ORG")]
    pub bootstrap_admin: Option<String>,
}

pub fn run(args: ServeArgs, globals: &Globals) -> anyhow::Result<ExitCode> {
    let mut cfg = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            ServerConfig::from_toml(&text, path)?
        }
        None => ServerConfig::default(),
    };
    if let Some(l) = args.listen {
        cfg.listen = Some(l);
    }
    if let Some(i) = args.inventory {
        cfg.inventory = Some(i);
    }
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        cfg.tls = Some(TlsSection { cert, key });
    }
    let inv_path = cfg
        .inventory
        .clone()
        .context("no inventory: pass --inventory FILE or set `inventory` in the configuration")?;
    let text = std::fs::read_to_string(&inv_path)
        .with_context(|| format!("reading {}", inv_path.display()))?;
    let inventory = Inventory::from_toml(&text)
        .with_context(|| format!("loading inventory {}", inv_path.display()))?;
    let db = cfg
        .database
        .clone()
        .unwrap_or_else(|| globals.data_dir.join("state.db"));
    if let Some(dir) = db.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let store: Arc<dyn StateStore> = Arc::new(
        SqliteStore::open(&db).with_context(|| format!("opening state store {}", db.display()))?,
    );
    let hashing = PasswordHashing::standard()?;
    let mut options = cfg.state_options();
    // Streaming intake: event store, consumer (splits + detectors), file tails.
    let mut stream = match &cfg.ingest {
        Some(section) => {
            let s =
                crate::cmd::stream::start(section, &inventory, Arc::clone(&store), &db, globals)?;
            options.ingest = Some(yagura_server::api::ingest::IngestEndpoint::new(
                Arc::new(crate::cmd::stream::HttpSink(s.intake.clone())),
                section.max_body_bytes,
                section.max_in_flight,
            ));
            Some(s)
        }
        None => None,
    };
    // Hunting searches the event store: the one ingest fills, else the data directory's
    // (`yagura ingest`, `detect --store`) when there is one.
    if let Some(s) = &stream {
        options.events = Some(Arc::clone(&s.events));
    } else {
        let dir = crate::cmd::hunt::events_dir(globals);
        if yagura_eventstore::EventStore::exists(&dir) {
            // Read-only: `yagura ingest` or `detect --store` may write it meanwhile. Its
            // catalogue is in this server's state database.
            let events = crate::cmd::hunt::open_read_only_at(&dir, &db)?;
            options.events = Some(Arc::new(events));
        }
    }
    let state = AppState::new(store, inventory, hashing, options)
        .context("loading organizations into the state store")?;
    if let Some(spec) = &args.bootstrap_admin {
        let (name, org) = spec
            .split_once('@')
            .context("--bootstrap-admin takes NAME@ORG")?;
        let org = OrgId::new(org).context("--bootstrap-admin organization")?;
        let password = std::env::var("YAGURA_ADMIN_PASSWORD")
            .context("--bootstrap-admin needs the password in $YAGURA_ADMIN_PASSWORD")?;
        if yagura_server::bootstrap_admin(&state, name, &org, &password)? {
            eprintln!("created center administrator {name} in {org}");
        }
    }
    let addr = cfg.listen.unwrap_or(DEFAULT_LISTEN);
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    let tls = cfg.tls_files();
    if let Some(t) = &tls {
        // Fail before announcing the URL when the certificate cannot be used.
        yagura_server::tls_config(t)?;
    }
    let tls_server = tls
        .as_ref()
        .map(|t| yagura_server::tls_config(t).map(Arc::new))
        .transpose()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!(
        "yagura API listening on {scheme}://{local}/api/v1 (OpenAPI: {scheme}://{local}/api/openapi.json)"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let section = cfg.ingest.clone();
    let stream_ref = &mut stream;
    runtime.block_on(async move {
        if let (Some(s), Some(section)) = (stream_ref.as_mut(), &section) {
            crate::cmd::stream::start_listeners(s, section, tls_server).await?;
            eprintln!(
                "yagura ingest: POST {scheme}://{local}/api/v1/ingest (token scope \"ingest\")"
            );
        }
        let shutdown = async {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async {
                    match term.as_mut() {
                        Some(t) => { t.recv().await; }
                        None => std::future::pending::<()>().await,
                    }
                } => {}
            }
        };
        yagura_server::serve(
            listener,
            yagura_server::router(state),
            tls.as_ref(),
            shutdown,
        )
        .await
        .map_err(anyhow::Error::from)
    })?;
    if let Some(s) = stream {
        eprintln!("yagura: flushing the event store");
        s.stop();
    }
    Ok(ExitCode::SUCCESS)
}
