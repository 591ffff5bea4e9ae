"""A start-up failure shows the exception that ended the process, not the stack frames under it."""

from pathlib import Path

from deploy.local.procs import log_tail


def test_log_tail_keeps_the_java_exception_and_drops_its_frames(tmp_path: Path) -> None:
    log = tmp_path / "mongo.log"
    frames = [f"\tat org.h2.mvstore.Frame{i}.call(Frame{i}.java:{i})" for i in range(40)]
    log.write_text(
        "\n".join(
            [
                "--- started 2026-11-24T12:13:56+00:00 ---",
                'Exception in thread "main" org.h2.mvstore.MVStoreException: Chunk 343 not found',
                *frames,
                "Caused by: java.io.IOException: short read",
                "        at java.base/java.io.Reader.read(Reader.java:1)",
                "\t... 12 more",
            ]
        )
    )

    tail = log_tail(log, lines=5)

    assert tail.splitlines() == [
        "--- started 2026-11-24T12:13:56+00:00 ---",
        'Exception in thread "main" org.h2.mvstore.MVStoreException: Chunk 343 not found',
        "Caused by: java.io.IOException: short read",
    ]


def test_log_tail_of_a_missing_log_says_so(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "absent.log") == "(no log written)"
