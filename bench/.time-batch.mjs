import pg from 'pg';
import { applyReportsSql, LOCK_COMMANDS_SQL } from '../dist/src/commands/apply-statements.js';
const url='postgres://postgres@127.0.0.1:5432/write_explain';
const c = new pg.Client(url); await c.connect();
const n = Number(process.argv[2] ?? 30); const mode = process.argv[3] ?? 'auto';
await c.query(`SET plan_cache_mode = ${mode === 'custom' ? 'force_custom_plan' : mode === 'generic' ? 'force_generic_plan' : 'auto'}`);
function params(k){ const cols=Array.from({length:13},()=>[]); for(let i=0;i<n;i++){ const id='cmd-'+Math.floor(Math.random()*2e6); const v=[id,'dev-1',['SENT','DELIVERED','SUCCESSFUL'][k%3],[1,2,4][k%3],null,JSON.stringify({deviceId:'dev-1',commandId:id,result:{resultCode:'SENT'}}),'callback',null,null,null,null,null,false]; v.forEach((x,j)=>cols[j].push(x)); } return [...cols, 172800]; }
const t={begin:0,lock:0,apply:0,commit:0}; const K=100;
for (let k=0;k<K*2;k++){ const p=params(k); let a=performance.now(); await c.query('BEGIN'); let b=performance.now(); await c.query({name:'l',text:LOCK_COMMANDS_SQL,values:[p[0]]}); let d=performance.now(); await c.query({name:'a',text:applyReportsSql(true),values:p}); let e=performance.now(); await c.query('COMMIT'); let f=performance.now(); if(k>=K){t.begin+=b-a;t.lock+=d-b;t.apply+=e-d;t.commit+=f-e;} }
for (const k in t) t[k]=(t[k]/K).toFixed(3); console.log(n, mode, t);
await c.end();
