"""The `talkwatch` command line: run the nightly job, extract, list contradictions, evaluate, administer."""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
from pathlib import Path

from pipeline.settings import Settings

logger = logging.getLogger(__name__)


# Exit statuses (README "Exit status"); `talkwatch run --json` prints the same as "exit_code" with a "status"
EXIT_OK = 0
EXIT_ERROR = 1  # an error, printed on stderr: a step of the night failed, the warehouse unreachable, bad input
EXIT_USAGE = 2  # the command line itself is wrong (argparse)
EXIT_NOT_RUNNING = 3  # `talkwatch db status`: the warehouse is not running (as `pg_ctl status`)
EXIT_RUN_IN_PROGRESS = 4  # `talkwatch run`: another run holds the run lock; this one did nothing
EXIT_FEEDS_FAILED = 5  # `talkwatch run`: the night ran, but every feed failed: nothing new was read
EXIT_ALERT_FAILED = 6  # `talkwatch run`: the night ran, but the digest was not sent (its contradictions stay pending)
EXIT_INTERRUPTED = 130  # Ctrl-C (SIGINT); 143 for SIGTERM; the run is recorded as failed
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: the reader of stdout went away (`talkwatch contradictions | head`)
EXIT_TERMINATED = 143

_NIGHT_EXIT = {"ok": EXIT_OK, "feeds_failed": EXIT_FEEDS_FAILED, "alert_failed": EXIT_ALERT_FAILED}


class CliError(Exception):
    """A user-facing error: printed without a traceback, exit status 1."""


def _err(msg: str) -> None:
    print(f"talkwatch: {_shown(msg)}", file=sys.stderr)


def _progress(quiet: bool):
    def show(msg: str) -> None:
        if not quiet:
            print(f"· {_shown(msg)}", file=sys.stderr, flush=True)

    return show


def _read_jsonl(path: str) -> list[dict]:
    rows = []
    try:
        fh = sys.stdin if path == "-" else open(path, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from exc
    with fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}:{n}: not a JSON object: {exc.msg}") from exc
    return rows


def _articles(rows: list[dict], path: str):
    from pipeline.models import Article

    out = []
    for n, row in enumerate(rows, 1):
        try:
            out.append(Article.from_dict(row))
        except (ValueError, TypeError) as exc:
            raise CliError(f"{path}: article {n}: {exc}") from exc
    return out


def _connect(settings: Settings):
    from pipeline import warehouse as wh

    try:
        return wh.connect_migrated(settings)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise CliError(f"warehouse: {exc}") from exc


def _connect_readonly(settings: Settings):
    """For the commands that only read: a READ ONLY session, no migration, no lock taken."""
    from pipeline import warehouse as wh

    try:
        return wh.connect_readonly(settings)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise CliError(f"warehouse: {exc}") from exc


# --------------------------------------------------------------------------- commands


def _on_sigterm(_signum, _frame) -> None:
    from pipeline import nightly

    raise nightly.Terminated()


def _run_failed(args, status: str, code: int, message: str, run_id: int | None = None) -> int:
    """A night that did not run to its end: the message on stderr, and with --json the status on stdout."""
    _err(message)
    if args.json:
        print(json.dumps({"run_id": run_id, "status": status, "exit_code": code, "error": message}))
    return code


def cmd_run(args, settings: Settings) -> int:
    from pipeline import nightly

    progress = _progress(args.quiet)
    try:  # SIGTERM (systemd, `timeout`) records the run as Ctrl-C does
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        summary = nightly.run_night(settings, args.feeds, progress=progress, wait_for_lock=args.wait)
    except nightly.RunInProgress as exc:
        return _run_failed(args, "run_in_progress", EXIT_RUN_IN_PROGRESS, str(exc))
    except nightly.StepError as exc:
        return _run_failed(args, "failed", EXIT_ERROR, str(exc), exc.run_id)
    except nightly.Terminated as exc:
        return _run_failed(args, "interrupted", EXIT_TERMINATED, "terminated (SIGTERM)", getattr(exc, "run_id", None))
    except KeyboardInterrupt as exc:
        return _run_failed(args, "interrupted", EXIT_INTERRUPTED, "interrupted", getattr(exc, "run_id", None))
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    code = _NIGHT_EXIT[summary.status]
    if args.json:
        print(json.dumps({**summary.as_dict(), "exit_code": code}, default=str))
        if code != EXIT_OK:
            _err(f"the night failed: {_NIGHT_WORDS[summary.status]} (exit status {code})")
        return code
    print(f"talkwatch run #{summary.run_id} finished" + ("" if code == EXIT_OK else f" — {_NIGHT_WORDS[summary.status]}"))
    print(f"  feeds:               {summary.feeds} ({summary.feeds_failed} failed)")
    print(f"  new articles:        {summary.articles_new} (of {summary.entries_seen} entries)")
    print(f"  articles extracted:  {summary.articles_extracted}" +
          (f" ({summary.articles_failed} failed)" if summary.articles_failed else "") +
          (f"; {summary.articles_skipped} stored but skipped (see talkwatch.articles.extract_reason)"
           if summary.articles_skipped else ""))
    print(f"  claims:              {summary.claims}")
    print(f"  new contradictions:  {summary.contradictions_new} ({summary.evidence_attached} evidence links)")
    if summary.contradictions_held:
        print(f"  low confidence:      {summary.contradictions_held} not mailed (under TALKWATCH_ALERT_MIN_CONFIDENCE "
              f"{settings.alert_min_confidence:.2f}; see talkwatch contradictions)")
    print(f"  mails sent:          {summary.mails_sent}" +
          (f"  [{_shown(summary.alert_error)}]" if summary.alert_error else ""))
    for f in summary.failing_feeds:
        print(f"  ! feed failing {f['consecutive_failures']} nights in a row: {_shown(f['outlet'])} "
              f"<{_shown(f['url'])}>: {_shown(f['last_error'])}")
    if summary.contradictions_new:
        from pipeline import contradictions
        from pipeline import warehouse as wh

        conn = wh.connect(wh.resolve_dsn(settings))
        try:
            rows = contradictions.list_contradictions(conn)
        finally:
            conn.close()
        print("\nContradictions found:")
        _print_table(rows)
    if code != EXIT_OK:
        _err(f"the night failed: {_NIGHT_WORDS[summary.status]} (exit status {code})")
    return code


_NIGHT_WORDS = {
    "feeds_failed": "every feed failed, nothing new was read",
    "alert_failed": "the alert digest could not be sent; its contradictions stay pending",
}

_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BIDI_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")  # as pipeline.alerts.show_bidi_controls


def _shown(value: object) -> str:
    """Feed text for the terminal on one line: line breaks and tabs as spaces, other control characters
    (ANSI escapes, BEL, NUL…) written as \\xNN, never sent to the terminal; bidi embeddings, overrides
    and isolates written as [U+202E], as the digest and the report show them, so that a feed's title
    cannot reverse the rest of the line."""
    from pipeline.alerts import show_bidi_controls

    text = re.sub(r"[\t\n\r]+", " ", "" if value is None else str(value))
    return show_bidi_controls(_CONTROL_RE.sub(lambda m: f"\\x{ord(m.group()):02x}", text))


def _json_line(value: object) -> str:
    """One JSON line with non-ASCII text kept readable, but bidi controls escaped (\\u202e: the same
    string to a JSON reader, inert in a terminal)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return _BIDI_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _claim_line(c: dict) -> str:
    return _shown(f"{c['source']} ({c.get('reported_by') or '?'}, {str(c.get('published_at') or '')[:10]}): "
                  f"{c['status']}")


def _status_words(r: dict) -> str:
    """'confidence 0.25, mailed 2024-08-21' / '…, low confidence (not mailed)' / '…, dismissed by alice'."""
    conf = f"confidence {r['confidence']:.2f}" if r.get("confidence") is not None else "confidence ?"
    status = r.get("alert_status")
    if status == "mailed":
        return f"{conf}, mailed {str(r['alerted_at'])[:10]}"
    if status == "dismissed":
        return f"{conf}, dismissed by {_shown(r.get('triaged_by'))}"
    if status == "low_confidence":
        return f"{conf}, low confidence (not mailed)"
    return f"{conf}, pending" + (", confirmed" if r.get("triage") == "confirmed" else "")


def _print_table(rows: list[dict]) -> None:
    if not rows:
        print("(no contradictions)")
        return
    for r in rows:
        parties = "–".join(r["parties"])
        print(f"#{r['contradiction_id']} {_shown(parties)} [{r['topic_family']}] {r['rule']}  "
              f"detected {str(r['detected_at'])[:19]}  {_status_words(r)}")
        print(f"   A: {_claim_line(r['a'])}  (+{len(r['evidence_a']) - 1} more)")
        print(f"      “{_shown(r['a']['evidence'])}”")
        print(f"   B: {_claim_line(r['b'])}  (+{len(r['evidence_b']) - 1} more)")
        print(f"      “{_shown(r['b']['evidence'])}”")


def cmd_extract(args, settings: Settings) -> int:
    from pipeline.extract import extract_articles, load_pipeline

    articles = _articles(_read_jsonl(args.input), args.input)
    nlp = load_pipeline(settings.spacy_model)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    n = 0
    try:
        for article, claims in extract_articles(
            articles, nlp=nlp, batch_size=args.batch_size, n_process=args.n_process
        ):
            for c in claims:
                out.write(_json_line({"article_id": article.id, "article_url": article.url, **c.to_dict()}) + "\n")
                n += 1
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"talkwatch: {n} claims from {len(articles)} articles", file=sys.stderr)
    return 0


def cmd_contradictions(args, settings: Settings) -> int:
    from pipeline import contradictions

    if getattr(args, "triage_verb", None):
        return cmd_triage(args, settings)
    _dsn, conn = _connect_readonly(settings)
    try:
        rows = contradictions.list_contradictions(conn, only_pending=args.pending)
    finally:
        conn.close()
    if args.format == "jsonl":
        for r in rows:
            print(_json_line(r))
    else:
        _print_table(rows)
    return 0


def cmd_triage(args, settings: Settings) -> int:
    """`talkwatch contradictions confirm|dismiss ID [--note TEXT]`."""
    from pipeline import triage

    _dsn, conn = _connect(settings)
    try:
        row = triage.decide(conn, args.id, triage.DECISIONS[args.triage_verb], args.note)
    except triage.TriageError as exc:
        raise CliError(str(exc)) from exc
    finally:
        conn.close()
    after = ("it will not be mailed again" if row["decision"] == "dismissed"
             else "it is mailed with the next digest if it has not been")
    print(f"contradiction {row['contradiction_id']} {row['decision']} by {row['decided_by']}; {after}")
    return 0


def cmd_export_feedback(args, settings: Settings) -> int:
    from pipeline import triage

    _dsn, conn = _connect_readonly(settings)  # it only reads: no migration, no lock
    try:
        lines = triage.feedback_examples(conn)
    finally:
        conn.close()
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    try:
        for line in lines:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    n = sum(len(line["triage"]) for line in lines)
    print(f"talkwatch: {len(lines)} articles with their triage decisions"
          + (f" written to {args.output}" if args.output else ""), file=sys.stderr)
    logger.debug("%s decision mentions exported", n)
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from pipeline import evaluate

    try:
        result = evaluate.evaluate(
            Path(args.gold), settings, scorer=Path(args.scorer) if args.scorer else None,
            errors_path=Path(args.errors) if args.errors else None,
        )
    except evaluate.EvalError as exc:
        raise CliError(str(exc)) from exc
    print(result.scorer_output.rstrip())
    if result.errors_path:
        print(f"(missed and spurious claims written to {result.errors_path})", file=sys.stderr)
    return 0


def cmd_train(args, settings: Settings) -> int:
    from pipeline.extract import learn
    from pipeline.extract.claims import MODEL_DIR

    corpus = Path(args.corpus) if args.corpus else settings.train_corpus
    if not corpus.is_file():
        raise CliError(f"no training corpus at {corpus} (pass --corpus, or set TALKWATCH_TRAIN_CORPUS)")
    out = Path(args.out) if args.out else MODEL_DIR
    learn.train(corpus, out, cache_dir=Path(args.cache) if args.cache else None,
                log=lambda m: print(f"· {m}", file=sys.stderr))
    return 0


def cmd_measure(args, settings: Settings) -> int:
    from pipeline.extract import measure

    corpus = Path(args.corpus) if args.corpus else settings.train_corpus
    for path in (corpus, *(Path(p) for p in args.check)):
        if not path.is_file():
            raise CliError(f"no gold file at {path}")
    text = measure.report(corpus, [Path(p) for p in args.check], folds=args.folds,
                          cache_dir=Path(args.cache) if args.cache else None, quick=args.quick,
                          log=lambda m: print(f"· {m}", file=sys.stderr))
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0


def cmd_feeds(args, settings: Settings) -> int:
    from pipeline import nightly

    try:
        config = nightly.load_feeds_config(args.feeds)
    except (OSError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    _dsn, conn = _connect_readonly(settings)
    try:
        rows = nightly.feeds_health(conn, config.feeds)
    finally:
        conn.close()
    if args.format == "jsonl":
        for r in rows:
            print(_json_line(r))
        return 0
    print(f"{'outlet':24} {'status':12} {'fails':>5} {'articles':>8}  last success         url / last error")
    for r in rows:
        print(f"{_shown(r['outlet'])[:24]:24} {str(r['last_status'] or 'never'):12} {r['consecutive_failures']:>5} "
              f"{r['articles']:>8}  {str(r['last_success_at'] or '-')[:19]:20} {_shown(r['url'])}")
        if r["last_error"]:
            print(f"{'':70}  ↳ {_shown(r['last_error'])}")
    return 0


def cmd_db(args, settings: Settings) -> int:
    from pipeline import warehouse as wh

    if args.db_command == "stop":
        from pipeline import embedded

        if settings.dsn:
            raise CliError("TALKWATCH_DSN is set: the warehouse is not the embedded server, nothing to stop")
        try:
            stopped = embedded.stop(settings.home)
        except embedded.EmbeddedError as exc:
            raise CliError(str(exc)) from exc
        print(f"embedded PostgreSQL under {settings.home} " + ("stopped" if stopped else "was not running"))
        return 0
    if args.db_command == "status":
        return _db_status(settings)
    if args.db_command == "dsn":
        try:
            print(wh.resolve_dsn(settings))
        except Exception as exc:  # noqa: BLE001
            raise CliError(f"warehouse: {exc}") from exc
        return 0
    if args.db_command == "counts":
        _dsn, conn = _connect_readonly(settings)
        try:
            for k, v in wh.table_counts(conn).items():
                print(f"{k:24} {v}")
        finally:
            conn.close()
        return 0
    if args.db_command == "migrate":
        return _migrate(settings)
    _dsn, conn = _connect(settings)
    try:
        if args.db_command == "grant-analyst":
            from pipeline import roles

            roles.grant_analyst(conn, args.name, args.password)
            print(f"analyst login {args.name!r} can now read schema analytics")
            print(_password_note(settings, conn, args.name, args.password))
    finally:
        conn.close()
    return 0


def _socket_access(folder: Path | None) -> str:
    """Who can open the folder of a Unix socket, in words."""
    import pwd
    import stat

    if folder is None:
        return "?"
    try:
        info = folder.stat()
    except OSError:
        return f"{folder}: not readable here"
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077 == 0:
        return f"the system user {owner} and root only: the folder's mode is {mode:o}"
    return f"the system user {owner}, root, and other local users: the folder's mode is {mode:o}"


def _password_note(settings: Settings, conn, name: str, password: str | None) -> str:
    """What a login's password protects on this warehouse (issue 13: not always what an operator assumes)."""
    from pipeline import roles

    stored = "The password was stored; it" if password is not None else "A password (--password) would be stored, and"
    if not settings.dsn:
        from pipeline import embedded

        socket_dir = embedded.status(settings.home).socket_dir
        return (
            f"note: this warehouse is the embedded PostgreSQL server. It accepts connections only on its Unix "
            f"socket, in {socket_dir}, and trusts every one of them (trust authentication): whoever can open that "
            f"folder ({_socket_access(socket_dir)}) logs in as any role, {name!r} or the superuser postgres, with "
            f"any password or none. {stored} is checked only if this data is served by a server with password "
            f"authentication; here it protects nothing, and the read-only limits bind only someone who chooses "
            f"to log in as {name!r}. For analysts whose login must be enforced, put the warehouse on a PostgreSQL "
            f"server with password (scram-sha-256) authentication and set TALKWATCH_DSN."
        )
    rules = roles.trust_rules(conn)
    if rules is None:
        return ("note: the server checks the password only for connections its pg_hba.conf gives a password "
                "method (scram-sha-256, md5, password); for trust or peer lines it is not asked for.")
    if not rules:
        return "note: the server's pg_hba.conf trusts no connection: the password is asked for wherever it applies."
    return (f"note: the server's pg_hba.conf lets these connections in without checking any password: "
            f"{'; '.join(rules)}. Over them, anyone can log in as any role, {name!r} or a superuser: the password "
            f"protects only the connections its other lines cover.")


def _db_status(settings: Settings) -> int:
    """`talkwatch db status`: is the warehouse up? 0 when it is, 3 when not (as `pg_ctl status`)."""
    if settings.dsn:
        import psycopg2

        from pipeline import warehouse as wh

        try:
            conn = wh.connect(settings.dsn)
        except psycopg2.OperationalError as exc:
            print(f"warehouse (TALKWATCH_DSN): not reachable: {_shown(str(exc).strip())}")
            return EXIT_NOT_RUNNING
        try:
            with conn.cursor() as cur:
                cur.execute("select current_setting('server_version'), current_database(), current_user")
                version, database, user = cur.fetchone()
        finally:
            conn.close()
        print(f"warehouse (TALKWATCH_DSN): PostgreSQL {version}, accepting connections "
              f"(database {database}, user {user})")
        return 0
    from pipeline import embedded

    state = embedded.status(settings.home)
    print(state.describe())
    return 0 if state.running else EXIT_NOT_RUNNING


def _migrate(settings: Settings) -> int:
    """`talkwatch db migrate`: apply what is pending and say what changed."""
    from pipeline import warehouse as wh

    try:
        dsn = wh.resolve_dsn(settings)
        conn = wh.connect(dsn)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise CliError(f"warehouse: {exc}") from exc
    try:
        result = wh.migrate_schema(conn, lock_timeout=settings.lock_timeout)
    except Exception as exc:  # noqa: BLE001 - shown to the user
        raise CliError(f"warehouse: {exc}") from exc
    finally:
        conn.close()
    if not result.changed and not result.views_blocked:
        print("warehouse is up to date: nothing to apply, analyst views and functions unchanged")
        return 0
    for name in result.applied:
        print(f"applied migration {name}")
    for name in result.views_created:
        print(f"analyst view {name} created or replaced")
    for name in result.views_dropped:
        print(f"analyst view {name} dropped (its file is gone)")
    for name in result.dependants_recreated:
        print(f"view {name} rebuilt: it depends on an analyst view that had to be dropped and recreated")
    for what in result.dependants_dropped:
        print(f"DROPPED {_shown(what)}")
    for name in result.functions_created:
        print(f"analyst function {name} created or replaced (EXECUTE for talkwatch_analyst only)")
    for name in result.functions_dropped:
        print(f"analyst function {name} dropped (its file is gone, or creates another signature)")
    if result.temp_revoked:
        print("TEMPORARY on the database taken from PUBLIC (analysts cannot create temporary tables)")
    if result.views_blocked:
        raise CliError(result.views_blocked)
    return 0


def cmd_report(args, settings: Settings) -> int:
    from pipeline import report

    _dsn, conn = _connect_readonly(settings)
    try:
        report.write_report(conn, Path(args.output))
    finally:
        conn.close()
    print(f"report written to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="talkwatch", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="the whole nightly job: fetch, extract, load, detect, alert")
    r.add_argument("--feeds", help="feeds YAML file (default: the bundled sample feeds)")
    r.add_argument("--quiet", action="store_true", help="no progress display")
    r.add_argument("--json", action="store_true", help="print the summary as JSON")
    r.add_argument("--wait", action="store_true", help="wait for a concurrent run instead of exiting")
    r.set_defaults(func=cmd_run)

    e = sub.add_parser("extract", help="articles JSONL in, claims JSONL out")
    e.add_argument("input", help="articles JSONL (id, outlet, url, published, title, text); - for stdin")
    e.add_argument("-o", "--output", help="claims JSONL (default stdout)")
    e.add_argument("--batch-size", type=int, default=64)
    e.add_argument("--n-process", type=int, default=1)
    e.set_defaults(func=cmd_extract)

    c = sub.add_parser("contradictions", help="list the contradictions in the warehouse")
    c.add_argument("--format", choices=["table", "jsonl"], default="table")
    c.add_argument("--pending", action="store_true", help="only those not yet alerted")
    c.set_defaults(func=cmd_contradictions, triage_verb=None)
    csub = c.add_subparsers(dest="triage_verb", metavar="{confirm,dismiss}")
    for verb, what in (("confirm", "an analyst's decision: it is a real contradiction (mailed even under the "
                                   "confidence threshold)"),
                       ("dismiss", "an analyst's decision: not a contradiction; never mailed again")):
        t = csub.add_parser(verb, help=what)
        t.add_argument("id", type=int, help="the contradiction's id (the digest's 'Contradiction N')")
        t.add_argument("--note", help="why (at most 2,000 characters)")

    x = sub.add_parser("export-feedback", help="analysts' triage decisions as labelled examples (gold format)")
    x.add_argument("-o", "--output", help="JSONL file (default stdout)")
    x.set_defaults(func=cmd_export_feedback)

    v = sub.add_parser("eval", help="score extraction and contradiction detection against a gold file")
    v.add_argument("gold", help="gold JSONL (SPEC section 6)")
    v.add_argument("--scorer", help="score.py to use (default: beside the gold file, else ../shared/eval)")
    v.add_argument("--errors", help="where to write missed/spurious claims (default: GOLD.errors.jsonl in cwd)")
    v.set_defaults(func=cmd_eval)

    t = sub.add_parser("train", help="fit the extractor's models on the annotated corpus (writes pipeline/extract/models)")
    t.add_argument("--corpus", help="gold JSONL to learn from (default: ../shared/train/train.jsonl)")
    t.add_argument("--out", help="folder for the artefacts (default: the package's models folder)")
    t.add_argument("--cache", help="folder to keep parsed corpora in between runs (optional)")
    t.set_defaults(func=cmd_train)

    m = sub.add_parser("measure", help="grouped cross-validation, held-out scores, learned vs rules, learning "
                                       "curve and calibration, as markdown tables")
    m.add_argument("--corpus", help="gold JSONL to cross-validate on (default: ../shared/train/train.jsonl)")
    m.add_argument("--check", nargs="*", default=[], help="held-out gold files, scored by models trained on the corpus")
    m.add_argument("--folds", type=int, default=5)
    m.add_argument("--quick", action="store_true", help="cross-validation and held-out scores only")
    m.add_argument("--cache", help="folder to keep parsed corpora in between runs (optional)")
    m.add_argument("-o", "--output", help="also write the tables to this file")
    m.set_defaults(func=cmd_measure)

    f = sub.add_parser("feeds", help="feed health, one line per configured feed")
    f.add_argument("--feeds", help="feeds YAML file (default: the bundled sample feeds)")
    f.add_argument("--format", choices=["table", "jsonl"], default="table")
    f.set_defaults(func=cmd_feeds)

    d = sub.add_parser("db", help="warehouse administration")
    dsub = d.add_subparsers(dest="db_command", required=True)
    dsub.add_parser("dsn", help="print a DSN that psql accepts")
    dsub.add_parser("migrate", help="apply pending migrations; create the analyst views and functions that changed")
    dsub.add_parser("counts", help="row counts of the core tables")
    dsub.add_parser("stop", help="stop the embedded PostgreSQL server (its data stays; the next command restarts it)")
    dsub.add_parser("status", help="is the warehouse running? exit status 0 when it is, 3 when it is not")
    g = dsub.add_parser("grant-analyst", help="create a read-only analyst login")
    g.add_argument("name")
    g.add_argument("--password", help="login password (default: none); the command says what it protects on "
                                      "this server (nothing on the embedded one, which trusts its socket)")
    d.set_defaults(func=cmd_db)

    rp = sub.add_parser("report", help="write a self-contained HTML report")
    rp.add_argument("-o", "--output", default="report.html")
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        try:
            settings = Settings.from_env()
        except ValueError as exc:
            raise CliError(str(exc)) from exc
        code = args.func(args, settings)
        sys.stdout.flush()  # inside the try: a reader gone away is seen here, not at interpreter exit
        return code
    except BrokenPipeError:
        # Stop quietly, as a tool ended by SIGPIPE would; stdout goes to /dev/null so that Python's own
        # flush at exit does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except CliError as exc:
        _err(str(exc))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
