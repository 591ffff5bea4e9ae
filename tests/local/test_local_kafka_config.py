"""The broker configuration the stack generates (no broker needed)."""

from __future__ import annotations

import base64
import re

from deploy.local import kafka_broker
from deploy.local.config import StackConfig


def test_cluster_ids_are_22_char_base64url_uuids() -> None:
    for _ in range(200):
        cid = kafka_broker.new_cluster_id()
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_template_renders_ports_and_data_dir(isolated_cfg: StackConfig) -> None:
    text = kafka_broker.render_properties(isolated_cfg)
    assert "${" not in text
    assert f"listeners=PLAINTEXT://127.0.0.1:{isolated_cfg.kafka_port}," in text
    assert f"CONTROLLER://127.0.0.1:{isolated_cfg.kafka_controller_port}" in text
    assert f"log.dirs={isolated_cfg.kafka_dir / 'data'}" in text
    assert "auto.create.topics.enable=false" in text
    assert "group.initial.rebalance.delay.ms=0" in text
