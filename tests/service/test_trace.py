"""trace_sample: one sample's lineage up and down, each sample with its state, bounded walks."""

from __future__ import annotations

import pytest

from metaxy_tui.errors import UnknownFeatureError, UnknownSampleError
from metaxy_tui.service.project import open_project
from metaxy_tui.service.trace import more_samples, trace_sample, walk_links
from tests.trace_pipeline import build


@pytest.fixture
def clips(graph, store_path):
    build(store_path).close()
    project = open_project(db=store_path, mode="r")
    yield project
    project.close()


def link(links, feature):
    return next(x for x in links if x.feature == feature)


def states(link_) -> dict:
    return {tuple(n.ref.ids.values()): n.state for n in link_.nodes}


def test_a_changed_root_sample_feeds_its_group_and_its_children(clips):
    t = trace_sample(clips, "doc", {"doc_id": "d02"})
    root = t.root
    assert root.state == "current" and root.upstream_links == [] and not t.truncated
    profile = link(root.links, "author/profile")
    assert profile.kind == "aggregation" and profile.on == {"author": "alice"}
    assert profile.relation == "the group it belongs to" and profile.flows == ["summary ← doc.text"]
    [alice] = profile.nodes
    assert alice.state == "stale" and alice.detail == "changed upstream: summary moved"
    assert [(f.field, f.current) for f in alice.fields] == [("summary", False)]
    pages = link(root.links, "doc/page")
    assert pages.kind == "expansion" and states(pages) == {("d02-p1",): "stale", ("d02-p2",): "stale"}
    p1 = pages.nodes[0]
    assert {f.field: f.current for f in p1.fields} == {"meta": True, "text": False}  # only text moved
    embeddings = link(p1.links, "doc/page_embedding")  # the whole pipeline by default
    assert states(embeddings) == {("d02-p1",): "current"}  # its page was not recomputed yet


def test_an_aggregation_lists_its_members_and_an_orphan_says_so(clips):
    t = trace_sample(clips, "author/profile", {"author": "bob"})
    members = link(t.root.upstream_links, "doc")
    assert t.root.state == "stale" and members.relation == "the members of its group"
    assert [n.ref.ids for n in members.nodes] == [{"doc_id": "d04"}]  # d05 was deleted
    assert t.root.links == []
    orphan = trace_sample(clips, "doc/page", {"page_id": "d05-p1"})
    assert orphan.root.state == "orphaned" and "removed" in orphan.root.detail
    parent = link(orphan.root.upstream_links, "doc")
    assert parent.nodes == [] and parent.total == 0 and parent.note


def test_a_doc_without_author_belongs_to_no_group(clips):
    t = trace_sample(clips, "doc", {"doc_id": "d06"}, depth=1)
    profile = link(t.root.links, "author/profile")
    assert profile.nodes == [] and "belongs to no group" in profile.note
    pages = link(t.root.links, "doc/page")
    assert all(n.links is None and n.walkable for n in pages.nodes)  # depth 1: not walked further


def test_deleted_samples_are_found_and_marked(clips):
    t = trace_sample(clips, "doc", {"doc_id": "d05"})
    assert t.root.state == "deleted"
    pages = link(t.root.links, "doc/page")
    assert states(pages) == {("d05-p1",): "orphaned", ("d05-p2",): "orphaned"}


def test_limit_pages_and_more_reads_the_next_page(clips):
    t = trace_sample(clips, "author/profile", {"author": "alice"}, limit=2)
    members = link(t.root.upstream_links, "doc")
    assert [n.ref.ids["doc_id"] for n in members.nodes] == ["d01", "d02"] and members.more == 1
    nodes = more_samples(clips, members, limit=2)
    assert [n.ref.ids["doc_id"] for n in nodes] == ["d03"] and members.more == 0 and members.after is None
    assert members.to_dict()["shown"] == 3


def test_depth_and_walking_on_demand(clips):
    t = trace_sample(clips, "doc/page_embedding", {"page_id": "d01-p1"}, depth=1)
    [page] = link(t.root.upstream_links, "doc/page").nodes
    assert page.links is None and page.walkable
    [up] = walk_links(clips, page)
    assert up.feature == "doc" and up.nodes[0].ref.ids == {"doc_id": "d01"}
    nothing = trace_sample(clips, "doc/page", {"page_id": "d01-p1"}, depth=0)
    assert nothing.root.links is None and nothing.root.upstream_links is None


def test_the_budget_stops_the_walk(clips):
    t = trace_sample(clips, "doc", {"doc_id": "d01"}, budget=2)
    assert t.truncated and t.to_dict()["truncated"] is True


def test_json_tree(clips):
    data = trace_sample(clips, "doc/page", {"page_id": "d02-p1"}).to_dict()
    assert data["feature"] == "doc/page" and data["ids"] == {"page_id": "d02-p1"} and data["depth"] is None
    sample = data["sample"]
    assert sample["state"] == "stale" and {f["field"] for f in sample["fields"]} == {"meta", "text"}
    [up] = sample["upstream"]
    assert up["lineage"] == "expansion" and up["relation"] == "its parent" and up["on"] == {"doc_id": "d02"}
    assert up["samples"][0]["fields"][0]["current"] is None  # a root's field: given, not computed
    [down] = sample["downstream"]
    assert down["feature"] == "doc/page_embedding" and down["total"] == 1 and down["more"] == 0


def test_unknown_feature_and_id_are_clear_errors(clips):
    with pytest.raises(UnknownFeatureError, match="unknown feature 'nope'"):
        trace_sample(clips, "nope", {"x": "1"})
    with pytest.raises(UnknownSampleError, match=r"doc has no sample doc_id=zz \(its first ids: doc_id=d01"):
        trace_sample(clips, "doc", {"doc_id": "zz"})


def test_demo_trace_walks_expansion_and_identity(project):
    t = trace_sample(project, "video/chunk", {"video_id": "v0007", "chunk_id": 0})
    assert t.root.state == "stale" and "frames moved" in t.root.detail
    [parent] = t.root.upstream_links
    assert parent.kind == "expansion" and parent.nodes[0].ref.ids == {"video_id": "v0007"}
    assert {x.feature: x.flows for x in t.root.links} == {
        "video/face_detection": ["faces ← video/chunk.frames"],
        "video/transcript": ["text ← video/chunk.audio"],
    }
