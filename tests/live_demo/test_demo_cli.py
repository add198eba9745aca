"""``videollm demo``: safe defaults, and one exit-2 message per user mistake (nothing served)."""
from __future__ import annotations

import socket

import pytest

from videollm_core.cli.commands import build_parser, main


def test_the_page_listens_on_loopback_without_a_share_link_by_default():
    args = build_parser().parse_args(["demo", "MODEL"])
    assert (args.host, args.port, args.share) == ("127.0.0.1", 7860, False)
    assert (args.max_upload_mb, args.max_video_s, args.max_sessions) == (50.0, 120.0, 4)


def test_a_missing_model_folder_is_one_message_and_exit_2(tmp_path, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    assert main(["demo", str(tmp_path / "no-model"), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert "no such model folder" in err and "Traceback" not in err


def test_a_port_in_use_is_one_message_and_exit_2(tmp_path, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert main(["demo", str(tmp_path), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


@pytest.mark.parametrize("argv, message", [(["--port", "70000"], "expected a port number 1..65535"),
                                           (["--max-upload-mb", "0"], "expected a positive number"),
                                           (["--max-sessions", "0"], "expected a positive integer")])
def test_bad_numbers_are_refused_by_the_parser(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "MODEL", *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_missing_demo_clips_are_one_message(tmp_path, capsys):
    assert main(["demo", str(tmp_path), "--examples", str(tmp_path / "nothing.mp4")]) == 2
    assert "--examples" in capsys.readouterr().err
