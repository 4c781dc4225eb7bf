#!/usr/bin/env python3
"""Debian package descriptions FR (DDTP Translation-fr) aligned to EN by Description-md5.
usage: ddtp.py Translation-fr Translation-en OUTDIR"""
import re, sys, json, os, collections, hashlib
def parse(path, l):
    out = {}
    for r in open(path, encoding='utf-8').read().split('\n\n'):
        m5 = re.search(r'^Description-md5: (\S+)', r, re.M)
        pk = re.search(r'^Package: (\S+)', r, re.M)
        m = re.search(rf'^Description-{l}: (.*?)\n((?: .*\n?)*)', r + '\n', re.M)
        if not (m5 and m): continue
        short = m.group(1).strip()
        paras, cur = [], []
        for line in m.group(2).split('\n'):
            line = line[1:] if line.startswith(' ') else line
            if line.strip() == '.':
                paras.append(' '.join(cur)); cur = []
            elif line.strip():
                cur.append(line.strip())
        if cur: paras.append(' '.join(cur))
        body = '\n'.join(p for p in paras if p)
        out.setdefault(m5.group(1), dict(pkg=pk.group(1), short=short, body=body))
    return out
fr = parse(sys.argv[1], 'fr'); en = parse(sys.argv[2], 'en')
os.makedirs(sys.argv[3], exist_ok=True)
seen = set(); shortc = collections.Counter(); shortc_en = collections.Counter()
P = []
for md5, d in sorted(fr.items(), key=lambda kv: kv[1]['pkg']):
    # near-dup key: first 25 words of body (packages of one source share it)
    key = ' '.join(d['body'].lower().split()[:25])
    if key in seen: continue
    seen.add(key)
    e = en.get(md5)
    w = len(d['body'].split())
    P.append(dict(pid=f"ddtp:{d['pkg']}", pkg=d['pkg'], md5=md5, short_fr=d['short'], text=d['body'],
                  short_en=e['short'] if e else None, text_en=e['body'] if e else None, words=w))
for p in P:
    shortc[p['short_fr'].lower()] += 1
    if p['short_en']: shortc_en[p['short_en'].lower()] += 1
with open(sys.argv[3] + '/passages.jsonl', 'w', encoding='utf-8') as o:
    for p in P: o.write(json.dumps(p, ensure_ascii=False) + '\n')
Q = []
for p in P:
    if not (60 <= p['words'] <= 250): continue
    if shortc[p['short_fr'].lower()] == 1 and len(p['short_fr'].split()) >= 3:
        Q.append(dict(lang='fr', type='synopsis', query=p['short_fr'], pid=p['pid']))
    if p['short_en'] and shortc_en[p['short_en'].lower()] == 1 and len(p['short_en'].split()) >= 3:
        Q.append(dict(lang='en', type='synopsis', query=p['short_en'], pid=p['pid']))
with open(sys.argv[3] + '/queries.jsonl', 'w', encoding='utf-8') as o:
    for k, q in enumerate(Q): o.write(json.dumps(dict(qid=f'd{k:05d}', **q), ensure_ascii=False) + '\n')
ws = [p['words'] for p in P]
print('fr descriptions', len(fr), 'en', len(en), 'after near-dup removal', len(P), 'words', sum(ws))
print('with EN', sum(1 for p in P if p['text_en']), ' 60-250 words:', sum(60 <= w <= 250 for w in ws), ' 100-200:', sum(100 <= w <= 200 for w in ws))
print('queries', len(Q), collections.Counter(q['lang'] for q in Q))
