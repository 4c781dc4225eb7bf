#!/usr/bin/env python3
"""Extract section-structured text blocks from (X)HTML documentation.

usage: extract.py SOURCE_NAME LANG OUT.jsonl FILE_OR_DIR...
Writes one JSON object per block:
  {src, lang, file, sec_id, sec_ord, sec_title, level, kind, text}
kind: 'p' (paragraph-like block) ; headings update sec_* but are not emitted.
Stdlib only.
"""
import sys, os, re, json, gzip
from html.parser import HTMLParser

VOID = {'br', 'img', 'meta', 'link', 'hr', 'input', 'col', 'area', 'base', 'wbr', 'source', 'param'}
SKIP = {'script', 'style', 'pre', 'head', 'title', 'nav', 'button'}
BLOCK = {'p', 'dd', 'dt', 'li', 'td', 'th', 'blockquote', 'caption', 'figcaption'}
HEAD = {'h1', 'h2', 'h3', 'h4', 'h5', 'h6'}
# containers whose contents are navigation / boilerplate
NAVCLS = re.compile(r'\b(docnav|navheader|navfooter|toc|sphinxsidebar|related|footer|breadcrumbs|'
                    r'headerlink|banner|list-of-|lot\b|index\b|toctree-wrapper|sphinxsidebarwrapper)')
NAVID = {'banner', 'title', 'TopLinks', 'BottomLinks', 'DisplayArea_top', 'searchbox'}
WS = re.compile(r'\s+')


class X(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack = []          # (tag, id, skipping)
        self.skip = 0
        self.buf = None          # current block text parts
        self.bdepth = None
        self.bkind = 'p'
        self.head = None         # (level, parts, id)
        self.sec_id = ''
        self.sec_title = ''
        self.level = 0
        self.sec_ord = 0
        self.blocks = []
        self.last_id = ''        # most recent id/name seen (for anchors before headings)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        i = a.get('id') or a.get('name') or ''
        cls = a.get('class') or ''
        sk = tag in SKIP or (tag not in ('body', 'html') and bool(NAVCLS.search(cls))) or i in NAVID
        if i and tag not in ('p', 'li', 'td', 'span', 'code'):
            self.last_id = i
        if self.head is not None and i and not self.head[2]:
            self.head[2] = i
        if tag in VOID:
            return
        self.stack.append((tag, i, sk))
        if sk:
            self.skip += 1
            return
        if self.skip:
            return
        if tag in HEAD:
            self.flush()
            self.head = [int(tag[1]), [], i or '']
        elif tag in BLOCK or (tag == 'div' and ({'para', 'simpara', 'formalpara'} & set(cls.split()))):
            if self.buf is not None and tag in ('li', 'dd', 'dt', 'td', 'th', 'p'):
                return  # nested inside a paragraph: keep in the same block
            self.flush()
            self.buf = []
            self.bkind = 'title' if 'title' in cls.split() else ('item' if tag in ('li', 'dd', 'dt', 'td', 'th') else 'p')
            self.bdepth = len(self.stack)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        # pop to matching tag
        for k in range(len(self.stack) - 1, -1, -1):
            if self.stack[k][0] == tag:
                break
        else:
            return
        while len(self.stack) > k:
            t, i, sk = self.stack.pop()
            if sk:
                self.skip -= 1
            if t in HEAD and self.head is not None:
                lvl, parts, hid = self.head
                title = WS.sub(' ', ''.join(parts)).strip().rstrip('¶#').strip()
                if not hid:
                    # anchor id from enclosing section element
                    for (tt, ii, _) in reversed(self.stack):
                        if ii and tt in ('section', 'div'):
                            hid = ii
                            break
                    else:
                        hid = self.last_id
                self.sec_id, self.sec_title, self.level = hid, title, lvl
                self.sec_ord += 1
                self.head = None
            if self.bdepth is not None and len(self.stack) < self.bdepth:
                self.flush()

    def handle_data(self, d):
        if self.skip:
            return
        if self.head is not None:
            self.head[1].append(d)
        elif self.buf is not None:
            self.buf.append(d)

    def flush(self):
        if self.buf is not None:
            t = WS.sub(' ', ''.join(self.buf)).strip()
            if t:
                self.blocks.append(dict(sec_id=self.sec_id, sec_ord=self.sec_ord,
                                        sec_title=self.sec_title, level=self.level,
                                        kind=self.bkind, text=t))
        self.buf = None
        self.bdepth = None


def files(paths):
    for p in paths:
        if os.path.isdir(p):
            for dp, _, fs in os.walk(p):
                for f in sorted(fs):
                    if re.search(r'\.x?html?(\.gz)?$', f):
                        yield os.path.join(dp, f)
        else:
            yield p


def main():
    src, lang, out = sys.argv[1:4]
    n = 0
    with open(out, 'w', encoding='utf-8') as o:
        for path in sorted(files(sys.argv[4:])):
            op = gzip.open if path.endswith('.gz') else open
            with op(path, 'rt', encoding='utf-8', errors='replace') as f:
                x = X()
                x.feed(f.read())
                x.close()
                x.flush()
            base = os.path.basename(path)
            base = re.sub(r'\.(fr|en)(\.html?)', r'\2', base)
            rel = os.path.relpath(path, os.path.commonpath(sys.argv[4:]) if len(sys.argv[4:]) > 1 else sys.argv[4])
            rel = re.sub(r'\.(fr|en)(\.html?)', r'\2', rel)
            for b in x.blocks:
                b = dict(src=src, lang=lang, file=rel if rel != '.' else base, **b)
                o.write(json.dumps(b, ensure_ascii=False) + '\n')
                n += 1
    print(f'{src} {lang}: {n} blocks -> {out}', file=sys.stderr)


if __name__ == '__main__':
    main()
