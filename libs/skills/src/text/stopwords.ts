/**
 * English stopwords: function words, auxiliaries, pronouns and a few very common verbs and
 * adverbs that carry little topical meaning. Used by keyword extraction and summarization.
 * Contractions are listed with a straight apostrophe; tokens are normalized to it.
 */
const STOPWORD_LIST = `
a about above across after afterwards again against all almost alone along already also although
always am among amongst an and another any anybody anyhow anyone anything anyway anywhere are
around as at away back be became because become becomes becoming been before beforehand behind
being below beside besides between beyond both but by can cannot could did do does doing done
down during each either else elsewhere enough etc even ever every everybody everyone everything
everywhere except few for former formerly from further get gets getting give given gives go goes
going gone got had has have having he her here hereafter hereby herein hers herself him himself
his how however i ie if in indeed into is it its itself just keep kept last latter latterly least
less let lets like made make makes many may me meanwhile might mine more moreover most mostly much
must my myself namely neither never nevertheless next no nobody none noone nor not nothing now
nowhere of off often on once one only onto or other others otherwise our ours ourselves out over
own per perhaps put quite rather really said same say says see seem seemed seeming seems several
she should since so some somebody somehow someone something sometime sometimes somewhere still
such take taken than that the their theirs them themselves then thence there thereafter thereby
therefore therein these they thing things this those though through throughout thus to together
too toward towards under until up upon us use used uses using very via was we well were what
whatever when whence whenever where whereas wherever whether which while who whoever whole whom
whose why will with within without would yet you your yours yourself yourselves
eg vs cf mr mrs ms dr st
i'm i've i'd i'll you're you've you'd you'll he's he'd he'll she's she'd she'll it's it'd it'll
we're we've we'd we'll they're they've they'd they'll that's there's here's what's who's let's
isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't
shouldn't can't couldn't mustn't
`;

export const STOPWORDS: ReadonlySet<string> = new Set(STOPWORD_LIST.split(/\s+/).filter((w) => w.length > 0));

export function isStopword(word: string): boolean {
  return STOPWORDS.has(word.toLowerCase());
}
