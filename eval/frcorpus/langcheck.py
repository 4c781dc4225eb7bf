import json,sys,re
FR=set("le la les de des du un une et est en que qui pour dans sur pas par au aux ce cette il elle sont avec plus ou se ne sa son ses leur nous vous on être fait peut".split())
EN=set("the of and to is in that for it with as are this be by on not or from which an can was have has will you your their these".split())
def lang(t):
    w=re.findall(r"[a-zàâçéèêëîïôûùüÿœ']+",t.lower())
    f=sum(x in FR for x in w); e=sum(x in EN for x in w)
    if f+e<3: return '?'
    return 'fr' if f>e else 'en'
if __name__=='__main__':
    fr=[json.loads(l) for l in open(sys.argv[1])]
    en=[json.loads(l) for l in open(sys.argv[2])] if len(sys.argv)>2 else None
    import collections
    c=collections.Counter(); cw=collections.Counter()
    for b in fr:
        L=lang(b['text']); c[L]+=1; cw[L]+=len(b['text'].split())
    print('fr file block langs',dict(c),'words',dict(cw))
    if en and len(en)==len(fr):
        same=sum(a['text']==b['text'] for a,b in zip(fr,en) if len(a['text'].split())>8)
        print('identical FR/EN blocks (>8 words):',same)
