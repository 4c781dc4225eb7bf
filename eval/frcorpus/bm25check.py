#!/usr/bin/env python3
"""Sanity check: BM25 (stdlib) success@1 / MRR@10 per query type. usage: bm25check.py OUTDIR [ddtp]"""
import sys, json, re, math, collections
d = sys.argv[1]
P = [json.loads(l) for l in open(d + '/passages.jsonl')]
Q = [json.loads(l) for l in open(d + '/queries.jsonl')]
if len(sys.argv) > 2:  # ddtp: keep 60-250-word passages as corpus
    P = [p for p in P if 60 <= p['words'] <= 250]
tok = lambda t: re.findall(r"\w+", t.lower())
docs = [tok(p.get('text_ict') or p['text']) for p in P]
ids = [p['pid'] for p in P]
N = len(docs); avg = sum(map(len, docs)) / N
inv = collections.defaultdict(list)
for i, dt in enumerate(docs):
    for w, c in collections.Counter(dt).items(): inv[w].append((i, c))
idf = {w: math.log(1 + (N - len(v) + .5) / (len(v) + .5)) for w, v in inv.items()}
L = [len(x) for x in docs]
res = collections.defaultdict(lambda: [0, 0, 0.0])
for q in Q:
    s = collections.defaultdict(float)
    for w in set(tok(q['query'])):
        for i, c in inv.get(w, ()):
            s[i] += idf[w] * c * 2.2 / (c + 1.2 * (.25 + .75 * L[i] / avg))
    top = sorted(s, key=s.get, reverse=True)[:10]
    r = next((k + 1 for k, i in enumerate(top) if ids[i] == q['pid']), None)
    t = res[(q['type'], q['lang'])]; t[0] += 1; t[1] += (r == 1); t[2] += 1 / r if r else 0
print(d, 'corpus', N)
for k, (n, a1, mrr) in sorted(res.items()):
    print(f'  {k[0]:9} {k[1]}  n={n:5}  S@1={a1/n:.2f}  MRR@10={mrr/n:.2f}')
