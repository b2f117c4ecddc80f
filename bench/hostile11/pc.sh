sqlite3 $1 "select value from meta where key='precision_choice'" | python3 -c "
import sys,json; d=json.load(sys.stdin); print(d['chosen'], d['sample'], [(t['precision'], round(t['window_cosine_min'],9), round(t['topk_agreement'],5), round(t['ms_per_window'],2)) for t in d['trials']])"
