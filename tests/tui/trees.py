"""Waiting for a DirectoryTree to show its entries before a snapshot: its loader worker runs for
as long as the tree exists, so waiting for workers to finish never sees it done."""

from __future__ import annotations

from textual.widgets import DirectoryTree


def tree_loaded(tree: DirectoryTree) -> bool:
    """Every open folder of the tree has its entries."""
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if node.is_expanded:
            if node.data is None or not node.data.loaded:
                return False
            stack.extend(node.children)
    return True


async def wait_for_trees(pilot, timeout_s: float = 10.0) -> None:
    for tree in pilot.app.screen.query(DirectoryTree):
        for _ in range(int(timeout_s / 0.05)):
            if tree_loaded(tree):
                break
            await pilot.pause(0.05)
    await pilot.pause()
