"""Main text of an HTML article page: no scripts, styles, navigation, headers or footers."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DROP = (
    "head",
    "title",
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "button",
    "menu",
)
_BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "main",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "blockquote",
    "pre",
    "figcaption",
    "td",
    "th",
    "tr",
    "br",
    "hr",
    "dd",
    "dt",
)
_DATE_META = (
    "article:published_time",
    "og:article:published_time",
    "date",
    "pubdate",
    "dc.date",
    "dcterms.date",
    "datePublished",
)


@dataclass(frozen=True)
class HtmlPage:
    text: str
    title: str | None
    date: str | None
    source: str | None


def _meta(soup, names: tuple[str, ...]) -> str | None:
    for name in names:
        tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
        if tag and tag.get("content", "").strip():
            return tag["content"].strip()
    return None


def extract_html(raw: str) -> HtmlPage:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    title = _meta(soup, ("og:title",))
    if not title and soup.title and soup.title.string:
        title = soup.title.string.strip() or None
    date = _meta(soup, _DATE_META)
    if not date:
        time_tag = soup.find("time", attrs={"datetime": True})
        date = time_tag["datetime"].strip() if time_tag else None
    source = _meta(soup, ("og:site_name",))
    if not source:
        canonical = soup.find("link", attrs={"rel": "canonical"})
        source = _meta(soup, ("og:url",)) or (canonical.get("href") if canonical else None)
    if not title:
        h1 = soup.find("h1")
        title = h1.get_text(" ", strip=True) or None if h1 else None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root = soup.find("article") or soup.find("main") or soup.body or soup
    for tag in root.find_all(_BLOCKS):
        tag.insert_before("\n\n")
        tag.insert_after("\n\n")
    text = root.get_text()
    lines = [re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\n")]
    paragraphs, current = [], []
    for line in lines:
        if line:
            current.append(line)
        elif current:
            paragraphs.append(" ".join(current))
            current = []
    if current:
        paragraphs.append(" ".join(current))
    body = "\n\n".join(paragraphs)
    return HtmlPage(text=body, title=title, date=date, source=source)
