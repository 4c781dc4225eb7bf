import sys, os, re, gzip
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(s): super().__init__(); s.out=[]; s.skip=0
    def handle_starttag(s,t,a):
        if t in ('script','style','pre'): s.skip+=1
    def handle_endtag(s,t):
        if t in ('script','style','pre') and s.skip: s.skip-=1
    def handle_data(s,d):
        if not s.skip: s.out.append(d)
def words(path):
    op = gzip.open if path.endswith('.gz') else open
    with op(path,'rt',encoding='utf-8',errors='replace') as f: t=f.read()
    p=P(); p.feed(t); return len(' '.join(p.out).split())
for root in sys.argv[1:]:
    n=0; files=0
    for dp,_,fs in os.walk(root):
        for f in fs:
            if re.search(r'\.x?html?(\.gz)?$', f):
                n+=words(os.path.join(dp,f)); files+=1
    print(f"{n:>9} words {files:>5} files  {root}")
