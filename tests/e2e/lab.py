"""JupyterLab steps the browser tests share."""

from __future__ import annotations


def run_in_cell(page, cell, code: str, attempts: int = 5):
    """Type `code` into a notebook cell and run it until it shows output; returns the output locator.

    A run sent while the notebook is still connecting to its kernel can be lost, so the run is
    tried again (accepting any kernel dialog in between)."""
    editor, output = cell.locator(".cm-content"), cell.locator(".jp-OutputArea-output")
    for _ in range(attempts):
        for dialog in page.locator(".jp-Dialog button.jp-mod-accept").all():
            dialog.click()
        if code not in editor.inner_text():
            editor.click()
            page.keyboard.press("Control+a")
            page.keyboard.insert_text(code)
        editor.click()
        page.keyboard.press("Shift+Enter")
        try:
            output.first.wait_for(timeout=30_000)
            break
        except Exception:
            page.wait_for_timeout(2_000)
    return output
