#!/usr/bin/env python3
"""Build ~100-200-word French passages (with aligned English text where possible)
and known-item queries from blocks/*.jsonl produced by extract.py.

usage: build.py OUTDIR SRC [SRC...]
writes OUTDIR/passages.jsonl, OUTDIR/queries.jsonl, prints stats. Stdlib only.
"""
import sys, os, re, json, hashlib, collections
sys.path.insert(0, os.path.dirname(__file__))
from langcheck import lang

MIN, MAX, HARDMAX = 100, 200, 230
SENT = re.compile(r'(?<=[.!?»])\s+(?=[A-ZÀÂÇÉÈÊÎÔÛ«"(])')
NUM = re.compile(r'^((chapitre|chapter|annexe|appendix|partie|part)\s+[0-9A-Z]+\.?\s*|([0-9]+|[A-Z])(\.[0-9]+)*\.\s+)', re.I)
TAG = re.compile(r'^([A-ZÉÈÀ][A-ZÉÈÀ.\-]+\s+)+(?=\S)')   # "ASTUCE ", "B.A.-BA ", "CULTURE "


def nw(t):
    return len(t.split())


def h(s):
    return int(hashlib.md5(s.encode()).hexdigest()[:8], 16)


def load(src, l):
    p = f'blocks/{src}.{l}.jsonl'
    return [json.loads(x) for x in open(p, encoding='utf-8')] if os.path.exists(p) else []


def clean_title(t):
    t = NUM.sub('', t).strip()
    return t


def split_long(t):
    """split a long block into pieces of <= MAX words at sentence boundaries"""
    out, cur = [], []
    for s in SENT.split(t):
        if cur and nw(' '.join(cur + [s])) > MAX:
            out.append(' '.join(cur)); cur = []
        cur.append(s)
    if cur:
        out.append(' '.join(cur))
    return out


def build(src):
    fr, en = load(src, 'fr'), load(src, 'en')
    byf_fr, byf_en = collections.defaultdict(list), collections.defaultdict(list)
    for b in fr: byf_fr[b['file']].append(b)
    for b in en: byf_en[b['file']].append(b)
    # repeated boilerplate blocks (same text >1 time in this source) are dropped
    cnt = collections.Counter(b['text'] for b in fr)
    passages = []
    for f in sorted(byf_fr):
        F = byf_fr[f]; E = byf_en.get(f, [])
        aligned = len(E) == len(F)
        # units: (fr_text, en_text or None, sec_ord, block)
        units = []
        for i, b in enumerate(F):
            t = b['text']
            if b['kind'] == 'title' or lang(t) != 'fr' or nw(t) < 3:
                continue
            if cnt[t] > 1 and nw(t) >= 5:
                continue
            et = E[i]['text'] if aligned else None
            if et is not None and et == t:      # untranslated
                continue
            if nw(t) > HARDMAX:
                for piece in split_long(t):
                    units.append((piece, None, b['sec_ord'], i, b))  # en piece alignment lost
            else:
                units.append((t, et, b['sec_ord'], i, b))
        # titles per sec_ord (fr / en)
        tit_fr, tit_en, sid = {}, {}, {}
        for i, b in enumerate(F):
            tit_fr.setdefault(b['sec_ord'], b['sec_title']); sid.setdefault(b['sec_ord'], b['sec_id'])
            if aligned:
                tit_en.setdefault(b['sec_ord'], E[i]['sec_title'])
        # sidebar titles: 'title' blocks, attached to the next kept unit
        side = {}
        for i, b in enumerate(F):
            if b['kind'] == 'title':
                side[i] = (b['text'], E[i]['text'] if aligned else None)
        start = len(passages)
        cur = []

        def emit():
            if not cur:
                return
            ft = ' '.join(u[0] for u in cur)
            ets = [u[1] for u in cur]
            et = ' '.join(ets) if all(e is not None for e in ets) else None
            first_secs = []
            seen = set()
            for u in cur:
                if u[2] not in seen:
                    seen.add(u[2]); first_secs.append(u[2])
            passages.append(dict(src=src, file=f, sec_id=sid.get(cur[0][2], ''), sec_ords=first_secs,
                                 blocks=[u[3] for u in cur], text=ft, text_en=et))
        last_sec = None
        for u in units:
            w = nw(' '.join(x[0] for x in cur)) if cur else 0
            if cur and (w + nw(u[0]) > MAX or (u[2] != last_sec and w >= MIN)):
                emit(); cur = []
            cur.append(u); last_sec = u[2]
        emit()
        # merge a too-short tail into its predecessor when it fits
        # (done globally below)
        for p in passages[start:]:
            if True:
                p['_titles'] = [(tit_fr.get(s, ''), tit_en.get(s)) for s in p['sec_ords']]
                p['_side'] = [side[i - 1] for i in p['blocks'] if (i - 1) in side]
    out = [p for p in passages if nw(p['text']) >= 60]
    return out


def make_queries(P):
    Q = []
    # title queries: section titles whose section STARTS in the passage (first block of the section kept)
    title_count = collections.Counter()
    for p in P:
        for tf, te in p['_titles']:
            title_count[('fr', clean_title(tf).lower())] += 1
            if te: title_count[('en', clean_title(te).lower())] += 1
    for p in P:
        for tf, te in p['_titles'][:1] + p['_titles'][1:]:
            for l, t in (('fr', tf), ('en', te)):
                if not t or (l == 'fr' and t == te): continue   # untranslated title
                c = clean_title(t)
                if nw(c) >= 2 and title_count[(l, c.lower())] == 1:
                    Q.append(dict(qid='', lang=l, type='title', query=c, pid=p['pid']))
        for sf, se in p['_side']:
            for l, t in (('fr', sf), ('en', se)):
                if not t or (l == 'fr' and t == se): continue
                c = TAG.sub('', t).strip()
                if nw(c) >= 2:
                    Q.append(dict(qid='', lang=l, type='sidebar', query=c, pid=p['pid']))
        # French inverse-cloze query: a sentence removed from the passage (index text_ict instead of text)
        fs = SENT.split(p['text'])
        cand = [i for i, s in enumerate(fs) if 8 <= nw(s) <= 35 and i > 0]
        ict = None
        if len(fs) >= 4 and cand:
            ict = cand[h(p['pid'] + 'f') % len(cand)]
            Q.append(dict(qid='', lang='fr', type='ict', query=fs[ict], pid=p['pid']))
            p['text_ict'] = ' '.join(fs[:ict] + fs[ict + 1:])
        # cross-lingual sentence query: an EN sentence of the aligned EN passage, avoiding
        # the position of the removed FR sentence (sentence order usually matches)
        if p['text_en']:
            es = SENT.split(p['text_en'])
            ss = [j for j, s in enumerate(es) if 8 <= nw(s) <= 35 and (ict is None or abs(j - ict) > 0)]
            if ss:
                j = ss[h(p['pid']) % len(ss)]
                Q.append(dict(qid='', lang='en', type='xsent', query=es[j], pid=p['pid']))
    for k, q in enumerate(Q):
        q['qid'] = f'q{k:05d}'
    return Q


def main():
    outdir = sys.argv[1]; os.makedirs(outdir, exist_ok=True)
    P = []
    for src in sys.argv[2:]:
        P += build(src)
    # global exact-duplicate removal
    seen = set(); P2 = []
    for p in P:
        k = p['text'].lower()
        if k in seen: continue
        seen.add(k); P2.append(p)
    P = P2
    for k, p in enumerate(P):
        p['pid'] = f"{p['src']}:{k:05d}"
    Q = make_queries(P)
    with open(f'{outdir}/passages.jsonl', 'w', encoding='utf-8') as o:
        for p in P:
            d = {k: v for k, v in p.items() if not k.startswith('_')}
            d['titles_fr'] = [t for t, _ in p['_titles']]
            d['titles_en'] = [t for _, t in p['_titles']]
            d['words'] = nw(p['text'])
            o.write(json.dumps(d, ensure_ascii=False) + '\n')
    with open(f'{outdir}/queries.jsonl', 'w', encoding='utf-8') as o:
        for q in Q:
            o.write(json.dumps(q, ensure_ascii=False) + '\n')
    bysrc = collections.Counter(p['src'] for p in P)
    words = collections.Counter()
    for p in P: words[p['src']] += nw(p['text'])
    en = collections.Counter(p['src'] for p in P if p['text_en'])
    print('passages', len(P), 'words', sum(words.values()))
    for s in bysrc:
        print(f'  {s:10} passages={bysrc[s]:5} words={words[s]:7} with_en={en[s]:5}')
    qc = collections.Counter((q['type'], q['lang']) for q in Q)
    print('queries', len(Q), dict(qc))


if __name__ == '__main__':
    main()
